"""Write a small synthetic dataset in a real dataset's on-disk layout.

    python tools/make_synthetic_data.py coco data/synthetic_coco --num-train 16 --num-val 8 --seed 0
    python tools/make_synthetic_data.py imagenet data/synthetic_imagenet   # <split>/<class>/<image>
    python tools/make_synthetic_data.py images data/synthetic_images       # flat, unlabeled
    python tools/make_synthetic_data.py clevr data/synthetic_clevr         # CLEVR_v1.0 tree
    python tools/make_synthetic_data.py ade20k data/synthetic_ade          # images/, annotations/
    python tools/make_synthetic_data.py inat21 data/synthetic_inat21       # {train_mini,val}.json
                                                                           # + folders
    python tools/make_synthetic_data.py cub data/synthetic_cub             # CUB_200_2011/
                                                                           # text files, images/
    python tools/make_synthetic_data.py cars data/synthetic_cars           # stanford_cars/ devkit
                                                                           # .mat files
    python tools/make_synthetic_data.py nyu data/synthetic_nyu             # nyu_{train,test}.txt
                                                                           # + scene folders
"""
import argparse

from synthetic import GENERATORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('dataset', choices=sorted(GENERATORS))
    parser.add_argument('root', help='output folder')
    parser.add_argument('--num-train', type=int, default=16)
    parser.add_argument('--num-val', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    GENERATORS[args.dataset](args.root, num_train=args.num_train, num_val=args.num_val,
                             seed=args.seed)
    print(f'wrote synthetic {args.dataset} to {args.root}')


if __name__ == '__main__':
    main()
