// The demo page: one EventSource on /events?room=<room>; picking another room reopens it.
'use strict'

const $ = (id) => document.getElementById(id)
const MAX_MESSAGES = 100
const MAX_LOG = 8

let rooms = []
let room = new URLSearchParams(location.hash.slice(1)).get('room') || 'lobby'
let source = null

// ---- rendering ---------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function renderRooms(counts) {
  const list = $('rooms')
  list.replaceChildren(
    ...rooms.map((name) => {
      const button = el('button', name === room ? 'room active' : 'room')
      button.type = 'button'
      button.id = `room-${name}`
      button.dataset.room = name
      button.setAttribute('aria-pressed', String(name === room))
      button.append(el('span', 'hash', '#'), el('span', 'room-name', name))
      const count = el('span', 'count', String(counts.get(name) || 0))
      count.title = 'clients in this room'
      button.append(count)
      button.addEventListener('click', () => pick(name))
      const item = el('li')
      item.append(button)
      return item
    }),
  )
}

function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}

function renderStats(stats) {
  $('stat-clients').textContent = stats.clients.toLocaleString()
  $('stat-events').textContent = stats.eventsSent.toLocaleString()
  $('stat-bytes').textContent = formatBytes(stats.bytesSent)
  $('stat-dropped').textContent = stats.dropped.toLocaleString()
  $('stat-max').textContent = formatBytes(stats.maxPendingBytes)
  if (rooms.length === 0) rooms = stats.rooms.map((r) => r.room)
  renderRooms(new Map(stats.rooms.map((r) => [r.room, r.members])))
}

/** A stable hue per name, for the avatar. */
function hue(name) {
  let h = 0
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360
  return h
}

function addMessage(msg) {
  const list = $('messages')
  const empty = list.querySelector('.empty')
  if (empty) empty.remove()
  const item = el('li', 'message')
  const avatar = el('span', 'avatar', msg.name.slice(0, 1).toUpperCase())
  avatar.style.setProperty('--hue', hue(msg.name))
  const body = el('div', 'body')
  const meta = el('div', 'meta')
  meta.append(el('strong', 'author', msg.name), el('time', 'at', new Date(msg.at).toLocaleTimeString([], { hour12: false })))
  body.append(meta, el('p', 'text', msg.text))
  item.append(avatar, body)
  list.append(item)
  while (list.children.length > MAX_MESSAGES) list.firstElementChild.remove()
  list.scrollTop = list.scrollHeight
}

function log(type, data) {
  const list = $('log')
  const item = el('li')
  item.append(el('span', `type type-${type}`, type), el('span', 'data', data))
  list.prepend(item)
  while (list.children.length > MAX_LOG) list.lastElementChild.remove()
}

function setStatus(state, text) {
  $('status').dataset.state = state
  $('status-text').textContent = text
}

// ---- the event stream ------------------------------------------------------------

function connect() {
  if (source) source.close()
  source = new EventSource(`/events?room=${encodeURIComponent(room)}`)
  setStatus('connecting', 'connecting…')

  source.addEventListener('open', () => setStatus('live', `live in #${room}`))
  source.addEventListener('error', () => setStatus('down', 'reconnecting…'))

  const on = (type, handle) =>
    source.addEventListener(type, (e) => {
      log(type, e.data)
      handle(JSON.parse(e.data))
    })
  on('welcome', (w) => {
    rooms = w.rooms
    $('whoami').textContent = `you are client ${w.id}`
  })
  on('clock', ({ now }) => {
    const clock = $('clock')
    clock.textContent = new Date(now).toLocaleTimeString([], { hour12: false })
    clock.dateTime = new Date(now).toISOString()
  })
  on('stats', renderStats)
  on('message', addMessage)
}

function pick(name) {
  if (name === room && source) return
  room = name
  history.replaceState(null, '', `#room=${encodeURIComponent(room)}`)
  $('room-title').textContent = `#${room}`
  $('text').placeholder = `Message #${room}…`
  const list = $('messages')
  list.replaceChildren(el('li', 'empty', `No messages in #${room} yet. Say hello!`))
  document.querySelectorAll('.room').forEach((b) => {
    b.classList.toggle('active', b.dataset.room === room)
    b.setAttribute('aria-pressed', String(b.dataset.room === room))
  })
  connect()
}

// ---- posting --------------------------------------------------------------------

$('name').value = localStorage.getItem('sse-demo-name') || ''
$('message-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const name = $('name').value.trim()
  const text = $('text').value.trim()
  if (!text) return
  localStorage.setItem('sse-demo-name', name)
  const res = await fetch(`/rooms/${encodeURIComponent(room)}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, text }),
  })
  if (res.ok) $('text').value = ''
  else log('error', (await res.json()).error)
  $('text').focus()
})

// The room list comes with the first stats; then listen.
fetch('/stats')
  .then((res) => res.json())
  .then((stats) => {
    rooms = stats.rooms.map((r) => r.room)
    if (!rooms.includes(room)) room = rooms[0]
    renderStats(stats)
    pick(room)
  })
