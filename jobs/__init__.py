"""Worker side: queues, the dataset job, worker setup, recovery and the pipeline."""
