"""The leaderboard as one standalone HTML page: headed sections of tables, notes and pictures.

The pictures are copied next to the page (``figures/``) and referenced by relative paths, so the
folder can be moved, archived or served as it is.
"""
import html
import os
import os.path as osp
import shutil
from typing import List, Sequence

_STYLE = ('body{font-family:sans-serif;margin:24px;max-width:1800px}'
          'table{border-collapse:collapse;font-size:13px;margin-bottom:8px}'
          'td,th{border:1px solid #999;padding:3px 8px;text-align:left}th{background:#eee}'
          'figure{margin:12px 0}img{max-width:100%;border:1px solid #ccc}'
          'figcaption{font-size:13px;color:#444}')


def table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A table's HTML, every cell escaped."""
    head = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    rows = ''.join('<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in row) + '</tr>'
                   for row in body)
    return f'<table><tr>{head}</tr>{rows}</table>'


def paragraph(text: str) -> str:
    """A paragraph of escaped text; empty text gives nothing."""
    return f'<p>{html.escape(text.strip())}</p>' if text.strip() else ''


def bullets(lines: Sequence[str]) -> str:
    """An unordered list of escaped lines; no lines give nothing."""
    return '<ul>' + ''.join(f'<li>{html.escape(x)}</li>' for x in lines) + '</ul>' if lines else ''


def figures(paths: Sequence[str], page_dir: str) -> str:
    """The pictures, each copied to ``<page_dir>/figures/<its folder>/`` (so two stages' pictures
    of one image stay apart) and shown with that path as caption. A picture already in ``page_dir``
    is referenced where it is."""
    out = []
    for path in paths:
        if osp.dirname(osp.abspath(path)) == osp.abspath(page_dir):
            name = osp.basename(path)
        else:
            name = osp.join('figures', osp.basename(osp.dirname(path)), osp.basename(path))
            os.makedirs(osp.dirname(osp.join(page_dir, name)), exist_ok=True)
            shutil.copyfile(path, osp.join(page_dir, name))
        src = html.escape(name.replace(osp.sep, '/'), quote=True)
        out.append(f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(name)}"></a>'
                   f'<figcaption>{html.escape(name)}</figcaption></figure>')
    return ''.join(out)


def write_page(path: str, title: str, sections: Sequence[tuple]) -> None:
    """Write the page: ``sections`` are (heading, html) pairs; a section without html is left
    out."""
    body: List[str] = [f'<h1>{html.escape(title)}</h1>']
    body += [f'<h2>{html.escape(heading)}</h2>{content}'
             for heading, content in sections if content]
    with open(path + '.tmp', 'w') as f:
        f.write(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}'
                f'</title><style>{_STYLE}</style></head><body>{"".join(body)}</body></html>\n')
    os.replace(path + '.tmp', path)
