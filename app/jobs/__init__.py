"""Jobs: the history store, sending a job once, following it to its video, the spending guard."""
