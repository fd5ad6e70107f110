"""`make bench`: understanding, speed and size of the assistant, side by side with Rasa's default config.

Run with `python -m bench` (see `bench/__main__.py`); results go to `results/` (ignored by git).
"""
