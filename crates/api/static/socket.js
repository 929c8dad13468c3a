// The WebSocket half of the contract: one connection per tab (each tab is a device), signed in with
// the access token as the subprotocol `bearer.<token>` next to `messenger`,
// reconnecting on its own with exponential backoff (capped at 10 s) and jitter.
// Every close but our own sign-out reconnects: a lost network, a server restart (1001, 1012), and
// 1013, which says we read too slowly and the server's queue for us overflowed, so frames were
// dropped. In every case onOpen's POST /sync (sync.js) brings what the lost connection missed.

const MAX_DELAY_MS = 10_000;
const BASE_DELAY_MS = 500;
const PING_EVERY_MS = 20_000;
const SILENCE_LIMIT_MS = 45_000;

export class Realtime {
  /**
   * @param {object} handlers
   *   onFrame(frame)          every JSON frame from the server
   *   onOpen({ reconnected }) the connection is up (reconnected: an earlier one existed)
   *   onStatus(status)        'connecting' | 'online' | 'offline'
   *   onFailure(attempt)      a connection attempt closed before it opened
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.getToken = () => null;
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastSeen = 0;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.drop();
  }

  /** @param {() => string} getToken the access token to connect with, read at every (re)connect */
  start(getToken) {
    this.stop();
    this.getToken = getToken;
    this.stopped = false;
    this.everOpened = false;
    this.attempt = 0;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
      ws.close(1000, 'signed out');
    }
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a frame if the socket is open; returns whether it went out. */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Skip the remaining backoff, e.g. when the browser says the network is back. */
  reconnectNow() {
    if (this.stopped || this.isOpen || this.ws?.readyState === WebSocket.CONNECTING) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.handlers.onStatus?.(status);
  }

  connect() {
    if (this.stopped) return;
    this.setStatus('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/ws`;
    const accessToken = this.getToken();
    if (!accessToken) {
      this.scheduleRetry();
      return;
    }
    let opened = false;
    let ws;
    try {
      // The token travels as a subprotocol, never in the URL (where logs and proxies would keep it);
      // the server answers with the subprotocol `messenger`.
      ws = new WebSocket(url, ['messenger', `bearer.${accessToken}`]);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.lastSeen = Date.now();
      this.setStatus('online');
      this.startHeartbeat();
      this.handlers.onOpen?.({ reconnected });
    };
    ws.onmessage = (event) => {
      this.lastSeen = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === 'string' && frame.type !== 'pong') this.handlers.onFrame?.(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (!opened) this.handlers.onFailure?.(this.attempt);
      // Too slow (1013): come straight back, at the shortest delay; the sync after it fills the hole.
      if (event.code === 1013) this.attempt = 0;
      this.scheduleRetry();
    };
    ws.onerror = () => {}; // onclose follows and handles it
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.setStatus(navigator.onLine === false ? 'offline' : 'connecting');
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Gives up on the current connection at once (a dead link may take minutes to report its close). */
  drop() {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.pingTimer);
    if (ws) {
      ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
      ws.close(4000, 'connection lost');
    }
    this.scheduleRetry();
  }

  /** Browsers answer protocol pings themselves; our own ping also detects a silently dead link. */
  startHeartbeat() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (!this.isOpen) return;
      if (Date.now() - this.lastSeen > SILENCE_LIMIT_MS) {
        this.drop();
        return;
      }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }
}
