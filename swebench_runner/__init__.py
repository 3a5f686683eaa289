"""swebench_runner."""
