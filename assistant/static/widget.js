/*
 * Newsdesk chat widget: a dependency-free chat box for portal pages.
 *
 *   <div id="newsdesk"></div>
 *   <script src="https://newsdesk.example.com/embed/widget.js" defer
 *           data-target="#newsdesk" data-api-key="READ_ONLY_KEY"></script>
 *
 * or, from your own script: Newsdesk.mount(element, {baseUrl, apiKey, title, placeholder}).
 *
 * It posts questions to <baseUrl>/api/ask/stream and reads the server-sent events: "delta"
 * events carry answer text, the "citations" event the answer with its citations as soon as they
 * are composed (shown at once), the final "answer" event the same with its news fields.
 * Every piece of text from the server is inserted with textContent, never parsed as HTML;
 * links are made only for http(s) URLs. The widget lives in a shadow root, so the portal's CSS
 * and the widget's CSS do not leak into each other.
 */
(function () {
  "use strict";

  var MAX_HISTORY = 10;
  var STYLE = [
    ":host{all:initial;display:block;font:14px/1.45 system-ui,sans-serif;color:#1d2330}",
    ".nd{border:1px solid #c9ced8;border-radius:8px;background:#fff;display:flex;flex-direction:column;max-height:36em}",
    ".nd-title{margin:0;padding:.6em .8em;font-size:1em;font-weight:600;border-bottom:1px solid #e3e6ec}",
    ".nd-log{flex:1;overflow:auto;padding:.6em .8em}",
    ".nd-q{font-weight:600;margin:.8em 0 .3em}",
    ".nd-a{white-space:pre-wrap;margin:0 0 .4em}",
    ".nd-cite{font:inherit;font-size:.8em;vertical-align:super;border:0;background:none;color:#0b57d0;cursor:pointer;padding:0 .1em}",
    ".nd-sources{margin:.2em 0 .8em;padding-left:1.6em;font-size:.92em}",
    ".nd-sources li{margin:.3em 0;padding:.2em .3em;border-radius:4px}",
    ".nd-sources li.nd-hl{background:#fff3c4}",
    ".nd-meta{color:#5b6472;font-size:.9em}",
    ".nd-quote{margin:.2em 0 0;padding-left:.6em;border-left:3px solid #c9ced8}",
    ".nd-note{color:#5b6472;font-style:italic}",
    ".nd-error{color:#a50e0e}",
    ".nd-form{display:flex;gap:.4em;padding:.6em .8em;border-top:1px solid #e3e6ec}",
    ".nd-input{flex:1;font:inherit;padding:.4em .5em;border:1px solid #c9ced8;border-radius:4px}",
    ".nd-send{font:inherit;padding:.4em .9em;border:0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}",
    ".nd-send:disabled{opacity:.6;cursor:default}"
  ].join("\n");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function httpUrl(value) {
    try {
      var url = new URL(String(value || ""));
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : "";
    } catch (e) {
      return "";
    }
  }

  /* Split "text [1] more [2]" into text nodes and citation buttons. */
  function renderAnswerText(container, text, onCite) {
    container.textContent = "";
    var pattern = /\[(\d+)\]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      container.appendChild(document.createTextNode(text.slice(last, match.index)));
      var n = Number(match[1]);
      var button = el("button", "nd-cite", "[" + n + "]");
      button.type = "button";
      button.setAttribute("aria-label", "source " + n);
      button.addEventListener("click", onCite.bind(null, n));
      container.appendChild(button);
      last = pattern.lastIndex;
    }
    container.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderSources(list, citations) {
    list.textContent = "";
    citations.forEach(function (c) {
      var item = el("li");
      item.value = c.n;
      item.setAttribute("data-n", String(c.n));
      var title = c.title || c.doc_id;
      var link = httpUrl(c.url);
      var head;
      if (link) {
        head = el("a", "nd-source-title", title);
        head.href = link;
        head.target = "_blank";
        head.rel = "noopener noreferrer";
      } else {
        head = el("span", "nd-source-title", title);
      }
      item.appendChild(head);
      var meta = [c.source, (c.published || "").slice(0, 10)].filter(Boolean).join(" · ");
      if (meta) item.appendChild(el("div", "nd-meta", meta));
      item.appendChild(el("blockquote", "nd-quote", c.sentence));
      list.appendChild(item);
    });
  }

  /* Parse a text/event-stream body: calls onEvent(name, parsedData) per event. */
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function dispatch(block) {
      var name = "message";
      var data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
    function pump() {
      return reader.read().then(function (chunk) {
        buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
        buffer = buffer.replace(/\r\n/g, "\n");
        var end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        if (!chunk.done) return pump();
        if (buffer.trim()) dispatch(buffer);
        return undefined;
      });
    }
    return pump();
  }

  function errorMessage(response) {
    return response
      .json()
      .then(function (body) {
        return body && body.error ? String(body.error) : "HTTP " + response.status;
      })
      .catch(function () {
        return "HTTP " + response.status;
      })
      .then(function (text) {
        var retry = response.headers.get("Retry-After");
        return retry ? text + " (retry in " + retry + " s)" : text;
      });
  }

  function Widget(target, options) {
    this.baseUrl = String(options.baseUrl || "").replace(/\/+$/, "");
    this.apiKey = options.apiKey || "";
    this.history = [];
    var root = target.attachShadow ? target.attachShadow({ mode: "open" }) : target;
    var style = el("style");
    style.textContent = STYLE;
    root.appendChild(style);
    var box = el("section", "nd");
    box.setAttribute("aria-label", options.title || "Newsdesk");
    box.appendChild(el("h2", "nd-title", options.title || "Ask Newsdesk"));
    this.log = el("div", "nd-log");
    this.log.setAttribute("aria-live", "polite");
    box.appendChild(this.log);
    this.form = el("form", "nd-form");
    this.input = el("input", "nd-input");
    this.input.type = "text";
    this.input.name = "question";
    this.input.maxLength = Number(options.maxLength || 2000);
    this.input.placeholder = options.placeholder || "Ask about the news…";
    this.input.setAttribute("aria-label", "Question");
    this.button = el("button", "nd-send", "Ask");
    this.button.type = "submit";
    this.form.appendChild(this.input);
    this.form.appendChild(this.button);
    box.appendChild(this.form);
    root.appendChild(box);
    this.form.addEventListener("submit", this.onSubmit.bind(this));
  }

  Widget.prototype.onSubmit = function (event) {
    event.preventDefault();
    var question = this.input.value.trim();
    if (!question || this.button.disabled) return;
    this.input.value = "";
    this.ask(question);
  };

  Widget.prototype.ask = function (question) {
    var self = this;
    var turn = el("article", "nd-turn");
    turn.appendChild(el("p", "nd-q", question));
    var answer = el("p", "nd-a");
    var status = el("p", "nd-note", "Searching the articles…");
    var sources = el("ol", "nd-sources");
    turn.appendChild(answer);
    turn.appendChild(status);
    turn.appendChild(sources);
    this.log.appendChild(turn);
    this.button.disabled = true;
    var headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (this.apiKey) headers.Authorization = "Bearer " + this.apiKey;
    var body = JSON.stringify({ question: question, history: this.history.slice(-MAX_HISTORY) });
    var streamed = "";
    var final = null;
    return fetch(this.baseUrl + "/api/ask/stream", { method: "POST", headers: headers, body: body })
      .then(function (response) {
        if (!response.ok) return errorMessage(response).then(function (m) { throw new Error(m); });
        return readEvents(response, function (name, data) {
          if (name === "delta") {
            streamed += data.text;
            answer.textContent = streamed;
          } else if (name === "citations") {
            self.show(data, answer, status, sources);
          } else if (name === "answer") {
            final = data;
          } else if (name === "error") {
            throw new Error(data.error || "error");
          }
        });
      })
      .then(function () {
        if (!final) throw new Error("the answer was cut off");
        self.show(final, answer, status, sources);
        self.history.push({ role: "user", content: question }, { role: "assistant", content: final.answer });
      })
      .catch(function (error) {
        status.className = "nd-note nd-error";
        var text = error && error.message ? error.message : String(error);
        status.textContent = text === "Failed to fetch" || text.indexOf("NetworkError") >= 0
          ? "Could not reach Newsdesk (network error or this site is not allowed)."
          : "Sorry, no answer: " + text;
      })
      .then(function () {
        self.button.disabled = false;
        self.log.scrollTop = self.log.scrollHeight;
      });
  };

  Widget.prototype.show = function (result, answer, status, sources) {
    renderAnswerText(answer, result.answer || "", function (n) {
      var items = sources.querySelectorAll("li");
      for (var i = 0; i < items.length; i++) {
        var hit = items[i].getAttribute("data-n") === String(n);
        items[i].classList.toggle("nd-hl", hit);
        if (hit && items[i].scrollIntoView) items[i].scrollIntoView({ block: "nearest" });
      }
    });
    renderSources(sources, result.citations || []);
    var notes = (result.notices || []).slice();
    if (!result.grounded) notes.unshift("No article answers this; try rephrasing.");
    status.textContent = notes.join(" ");
    status.hidden = notes.length === 0;
  };

  function mount(target, options) {
    var node = typeof target === "string" ? document.querySelector(target) : target;
    if (!node) throw new Error("Newsdesk: no element " + target);
    return new Widget(node, options || {});
  }

  var script = document.currentScript;
  window.Newsdesk = { mount: mount };
  if (script && script.getAttribute("data-target")) {
    var src = new URL(script.src, document.baseURI);
    var base = src.href.replace(/\/embed\/widget\.js(\?.*)?$/, "");
    var options = {
      baseUrl: script.getAttribute("data-base-url") || base,
      apiKey: script.getAttribute("data-api-key") || "",
      title: script.getAttribute("data-title") || "",
      placeholder: script.getAttribute("data-placeholder") || ""
    };
    var start = function () { mount(script.getAttribute("data-target"), options); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
