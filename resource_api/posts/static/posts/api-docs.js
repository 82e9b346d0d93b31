// Starts Swagger UI with the settings the page carries as JSON (nginx's CSP allows no inline script).
const read = (id) => JSON.parse(document.getElementById(id).textContent);

const settings = read("swagger-settings");
settings.dom_id = "#swagger-ui";
settings.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
const ui = SwaggerUIBundle(settings);
// Authorization code with PKCE (S256), as the auth server requires of every client.
ui.initOAuth(read("swagger-oauth"));
window.ui = ui;
