"""PostGIS access, geometry helpers and folium layer builders."""
