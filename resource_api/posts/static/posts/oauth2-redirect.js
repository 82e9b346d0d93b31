// The end of Swagger UI's OAuth2 sign-in: this window was opened by the docs page, and the auth
// server sent it back here with `code` and `state` (or `error`) in the query. It hands them to the
// opener, which exchanges the code (with its PKCE verifier) and closes this window. Does what
// swagger-ui's own oauth2-redirect.html does, from a file, since nginx's CSP allows no inline script.
(function () {
  const message = document.getElementById("message");
  const oauth2 = window.opener && window.opener.swaggerUIRedirectOauth2;
  if (!oauth2) {
    message.textContent = "Open the API docs at /api/docs and sign in from there: this page only finishes that sign-in.";
    return;
  }
  const source = /code|token|error/.test(window.location.hash) ? window.location.hash.substring(1) : window.location.search.substring(1);
  const params = Object.fromEntries(new URLSearchParams(source));
  const isValid = params.state === oauth2.state;
  const flow = oauth2.auth.schema.get("flow");

  if (["accessCode", "authorizationCode", "authorization_code"].includes(flow) && !oauth2.auth.code) {
    if (!isValid) {
      oauth2.errCb({ authId: oauth2.auth.name, source: "auth", level: "warning",
                     message: "The state sent back by the authorization server is not the one sent: sign-in refused." });
    } else if (params.code) {
      delete oauth2.state;
      oauth2.auth.code = params.code;
      oauth2.callback({ auth: oauth2.auth, redirectUrl: oauth2.redirectUrl });
    } else {
      const detail = params.error ? `[${params.error}]: ${params.error_description || "no code received"}` : "no code received";
      oauth2.errCb({ authId: oauth2.auth.name, source: "auth", level: "error", message: `Sign-in failed ${detail}` });
    }
  } else {
    oauth2.callback({ auth: oauth2.auth, token: params, isValid: isValid, redirectUrl: oauth2.redirectUrl });
  }
  window.close();
})();
