"""Alembic migrations of zoomguard (a package so they ship in the wheel and are found by path).

Run them with ``zoomguard db upgrade`` or ``alembic -c migrations/alembic.ini upgrade head``.
"""
