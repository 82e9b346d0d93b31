from tests.unit import configure

configure("auth_server")
