"""The hub's HTTP API (``/api/v1``): FastAPI routers, one module per resource."""
