"""What every task shares: errors, retry policy, the run's spec and results, logging, SQL files."""
