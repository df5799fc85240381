"""Pure domain core: policy, state and money rules kept free of web, database and queue code so they can be tested and re-run anywhere."""
