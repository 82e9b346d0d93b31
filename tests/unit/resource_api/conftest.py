from tests.unit import configure

configure("resource_api")
