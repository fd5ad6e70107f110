// The website chat widget: deep-chat (the chat UI) talking to Rasa's socket.io channel.
//
// Config comes from <script type="application/json" id="chat-config">:
//   socketUrl   where Rasa listens (its socket.io channel), e.g. "https://chat.example.com"
//   socketPath  Rasa's socketio_path, "/socket.io" by default
//   identity    the visitor's signed identity token, or null for an anonymous visitor
//   texts       the widget's own strings in the page's language: intro, placeholder, interrupted
// The widget speaks the page's language (<html lang="nl">): it sends it as customData.locale, so the
// assistant answers in it until the visitor writes in another one.
// Rasa's protocol: emit `session_request`, get `session_confirm`, then send
// `user_uttered` {message, session_id, customData} and receive `bot_uttered`
// ({text}, plus `quick_replies` when the bot offers buttons). credentials.yml sets
// `metadata_key: customData`, so customData.identity and .locale reach the actions as metadata.
import { io } from "./vendor/socket.io.esm.min.js";

// deep-chat 2.4.2 switches Remarkable's link validation off (validateLink = () => true, set after
// the plugins ran), so a bot message could render a `javascript:` link or a remote image on a host
// page without a CSP. This plugin puts validation back, stricter than Remarkable's own: links only to
// https:, http:, mailto: and tel:, deep-chat's override ignored, and images shown as their alt text.
function safeLinks(md) {
  const allowed = (url) => /^(https?:|mailto:|tel:)/i.test(String(url).trim());
  Object.defineProperty(md.inline, "validateLink", { configurable: true, get: () => allowed, set: () => {} });
  md.renderer.rules.image = (tokens, idx) => escapeHtml(tokens[idx].alt || "");
}
window.remarkable_plugins = [...(window.remarkable_plugins || []), { plugin: safeLinks }];
// Loaded only now, so its first Remarkable instance already gets the plugin.
await import("./vendor/deepChat.bundle.js");

const config = JSON.parse(document.getElementById("chat-config").textContent);
const chat = document.getElementById("chat");
const texts = config.texts;
const locale = document.documentElement.lang || "en";

// Where this tab keeps its conversation ID (a new tab is a new conversation).
const SESSION_KEY = "stale-session-chat-id";

// Every title the bot offered as a button, with what clicking it sends (the newest offer wins).
const payloadOfTitle = new Map();

function escapeHtml(text) {
  const span = document.createElement("span");
  span.textContent = String(text);
  return span.innerHTML.replace(/"/g, "&quot;");
}

function buttonsHtml(quickReplies) {
  // deep-chat styles `deep-chat-button` and, for `deep-chat-suggestion-button`, submits the
  // button's text as the visitor's message; the handler below swaps in the payload.
  const buttons = quickReplies.map((reply) => {
    payloadOfTitle.set(String(reply.title).trim(), String(reply.payload));
    return `<button class="deep-chat-button deep-chat-suggestion-button" data-payload="${escapeHtml(reply.payload)}">` +
      `${escapeHtml(reply.title)}</button>`;
  });
  return `<div class="quick-replies">${buttons.join(" ")}</div>`;
}

function responsesFor(botMessage) {
  const responses = [];
  if (botMessage.text) responses.push({ text: botMessage.text });
  const quickReplies = botMessage.quick_replies || [];
  if (quickReplies.length) responses.push({ html: buttonsHtml(quickReplies) });
  if (botMessage.attachment && botMessage.attachment.type === "image") {
    responses.push({ files: [{ src: botMessage.attachment.payload.src, type: "image" }] });
  }
  return responses;
}

function connectToRasa(_body, signals) {
  const socket = io(config.socketUrl, {
    path: config.socketPath || "/socket.io",
    // Straight to WebSocket: no cross-origin long-polling requests, so Rasa needs no CORS set-up.
    transports: ["websocket"],
  });
  let sessionId = null;
  let interrupted = false;

  socket.on("connect", () => {
    // The conversation ID is one the server issued (signed; bot/rasa_plugins/channels.py), kept for
    // this tab so a reconnect or a reload goes on with the same conversation. The server gives a
    // new one for anything it did not issue itself.
    socket.emit("session_request", { session_id: sessionStorage.getItem(SESSION_KEY) });
  });

  socket.on("session_confirm", (confirmed) => {
    const previous = sessionStorage.getItem(SESSION_KEY);
    sessionId = typeof confirmed === "string" ? confirmed : (confirmed && confirmed.session_id) || socket.id;
    sessionStorage.setItem(SESSION_KEY, sessionId);
    chat.dataset.session = "ready";
    signals.onOpen();
    if (interrupted && sessionId === previous) {
      interrupted = false;
    }
    if (interrupted) {
      interrupted = false;
      signals.onResponse({ text: texts.interrupted });
    }
  });

  socket.on("bot_uttered", (botMessage) => {
    const responses = responsesFor(botMessage || {});
    if (responses.length) signals.onResponse(responses);
  });

  socket.on("disconnect", () => {
    sessionId = null;
    interrupted = true;
    chat.dataset.session = "closed";
    signals.onClose();
  });

  signals.newUserMessage.listener = (body) => {
    const typed = ((body.messages || [])[0] || {}).text || "";
    const text = payloadOfTitle.get(typed.trim()) || typed;
    const customData = config.identity ? { identity: config.identity, locale } : { locale };
    socket.emit("user_uttered", { message: text, session_id: sessionId, customData });
  };
}

chat.connect = { websocket: true, handler: connectToRasa };
chat.introMessage = { text: texts.intro };
chat.textInput = { placeholder: { text: texts.placeholder } };
chat.dataset.session = "connecting";
