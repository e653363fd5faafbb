# attentive_ijepa-vittiny_10e_synthimagenet.py with efficient probing's pooler (EP): 32 queries of
# 3 channels each over the tiny encoder's 96.
_base_ = './attentive_ijepa-vittiny_10e_synthimagenet.py'
model = dict(pooler=dict(_delete_=True, kind='efficient', num_queries=32))
report = dict(task='synthetic ImageNet attentive (EP)')
