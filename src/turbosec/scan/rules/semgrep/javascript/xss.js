// Test target for xss.yaml (semgrep --test); never executed.
import DOMPurify from "dompurify";

function showGreeting() {
  const name = new URLSearchParams(location.search).get("name");
  // ruleid: turbosec.javascript.xss-html-sink
  document.getElementById("greeting").innerHTML = "<h1>Hello " + name + "</h1>";
}

function appendComment(list, comment) {
  // ruleid: turbosec.javascript.xss-html-sink
  list.insertAdjacentHTML("beforeend", `<li>${comment.body}</li>`);
}

function legacyBanner(text) {
  // ruleid: turbosec.javascript.xss-html-sink
  document.write(text);
}

function Comment({ body }) {
  // ruleid: turbosec.javascript.xss-html-sink
  return <div className="comment" dangerouslySetInnerHTML={{ __html: body }} />;
}

function safeVariants(el, name, body) {
  // ok: turbosec.javascript.xss-html-sink
  el.textContent = name;
  // ok: turbosec.javascript.xss-html-sink
  el.innerHTML = "";
  // ok: turbosec.javascript.xss-html-sink
  el.innerHTML = "<hr>";
  // ok: turbosec.javascript.xss-html-sink
  el.outerHTML = `<p class="empty">No comments</p>`;
  // ok: turbosec.javascript.xss-html-sink
  el.innerHTML = DOMPurify.sanitize(body);
  // ok: turbosec.javascript.xss-html-sink
  return <div dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(body) }} />;
}
