"""The demo loaders: the Helsinki demo city, its month of billing, its meters and its history."""
