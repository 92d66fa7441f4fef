"""Use cases over ports: each function is one transaction of the unit of work, with time from the clock."""
