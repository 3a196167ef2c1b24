"""`python -m tasks.sample_lake --out DIR …`: generate a sample lake."""

from tasks.sample_lake import main

main()
