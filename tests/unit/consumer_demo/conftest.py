from tests.unit import configure

configure("consumer_demo")
