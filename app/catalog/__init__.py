"""What the studio offers: model profiles, examples and the model list, from checked data files."""
