"""Response rules that hold for every view of the authorization server."""


class SeeOtherAfterPostMiddleware:
    """A redirect answering a POST is a 303, never a 302 or 307 (RFC 9700 §4.12).

    With 307 a browser would re-send the POSTed credentials (password, consent form) to wherever
    the redirect points, e.g. the client's redirect URI; 303 turns the follow-up into a GET.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "POST" and response.status_code in (302, 307):
            response.status_code = 303
        return response
