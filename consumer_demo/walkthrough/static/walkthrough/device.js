// The TV of the device chapter polls by itself: while it waits, it presses "Poll now" once its
// interval has passed (each poll is an ordinary POST of the form, answered by a redirect back).
const poll = document.getElementById("device-poll");
if (poll) {
  setTimeout(() => poll.requestSubmit(), Number(poll.dataset.interval) * 1000);
}
