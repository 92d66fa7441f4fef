"""Pure rules of firmware campaigns: statuses, time windows, eligibility and licenses. Standard library only."""
