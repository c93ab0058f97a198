"""What is derived from the store and can always be made again from it: the vector index and the graph,
kept in step by one mechanism (``projections.base``)."""
