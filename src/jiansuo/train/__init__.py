"""Training: the CoSENT loss, optimizers, pair data and fine-tuning loops."""
