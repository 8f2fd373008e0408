"""Storage: repository protocols (one module per store) and their adapters (sql/, dynamodb/)."""
