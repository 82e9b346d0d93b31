// "Copy" buttons: a button with data-copy copies the text of the element just before it (a file,
// not an inline script: nginx's CSP allows none).
document.querySelectorAll("button[data-copy]").forEach((button) => {
  const source = button.previousElementSibling;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    } catch (error) {
      // No clipboard access (refused, or not a secure origin): select the text for the user to copy.
      const range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
  });
});
