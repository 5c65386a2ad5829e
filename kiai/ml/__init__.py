"""Training on the labelled dataset: matrices, LightGBM and Keras baselines, runs, comparison, prediction, report.

Heavy libraries (numpy-heavy ML stacks, TensorFlow, LightGBM, scikit-learn, matplotlib) are imported inside
functions so that importing this package, and the CLI, stays fast.
"""
