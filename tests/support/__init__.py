"""What the tests share: servers, clients and data they are built on.

The fixtures themselves are in tests/conftest.py.
"""
