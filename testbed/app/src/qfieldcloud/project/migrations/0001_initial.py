# Stands in for a Django migration of QFieldCloud's app: the agent reads only its name.
