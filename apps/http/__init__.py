"""The HTTP apps: the Open311 API, the residents' page, the vector-tile server."""
