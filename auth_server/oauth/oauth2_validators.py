from oauth2_provider.oauth2_validators import OAuth2Validator as BaseValidator


class OAuth2Validator(BaseValidator):
    """DOT's validator, with this deployment's stricter rules (see the methods below)."""
