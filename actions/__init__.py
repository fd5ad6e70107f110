"""Thin rasa_sdk adapters: read the tracker, call `bot`, turn the answer into events."""
