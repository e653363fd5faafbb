"""I-JEPA and DSeq-JEPA pretraining (issues 3 and 4): not implemented yet."""
