"""Networks: the model (populations, projections, sources), connectivity, simulation."""
