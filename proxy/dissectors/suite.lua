-- Wireshark dissectors for the socket-programming suite's protocols, in one file.
--
--   wireshark -X lua_script:proxy/dissectors/suite.lua capture.pcap
--   tshark    -X lua_script:proxy/dissectors/suite.lua -r capture.pcap -V
--   (or copy this file into ~/.local/lib/wireshark/plugins/ to load it always)
--
-- Protocols (each section below follows the PROTOCOL.md it names):
--   rpclite    rpc-lite over TCP (framed) and UDP, port 7470, and by heuristic (magic "RPCL")
--   suiteframe framing's default frame (u32 big-endian length) holding a labelled record;
--              by heuristic (length, then the label 4c 01 00|01 04|08) or "Decode As"
--   tcpchat    the tcp crate's line chat, port 7070
--   mcchat     the multicast chat header ("chat/1 ..."), port 4446, and by heuristic
--   udpquote   the udp crate's quote service, port 7017
--
-- Over TCP a message may be split across segments or several may share one segment: each
-- TCP dissector reads whole messages and asks Wireshark for more bytes when one is cut
-- (pinfo.desegment_len), so every message is decoded once, whole.
--
-- A heuristic runs only after the dissector registered for the port, if any, declined: on
-- a port Wireshark gives another protocol (57000, IRC) add
--   -o tcp.try_heuristic_first:TRUE -o udp.try_heuristic_first:TRUE

-------------------------------------------------------------------------------------------
-- Shared: the 4-byte label of "receiver makes right" (framing/PROTOCOL.md section 4).
-------------------------------------------------------------------------------------------

local BYTE_ORDERS = { [0] = "big-endian", [1] = "little-endian" }
local WORD_SIZES = { [4] = "32-bit", [8] = "64-bit" }

-- True if the 4 bytes at `offset` are a valid label.
local function is_label(tvb, offset)
    if tvb:len() < offset + 4 then return false end
    return tvb(offset, 1):uint() == 0x4c and tvb(offset + 1, 1):uint() == 0x01
        and BYTE_ORDERS[tvb(offset + 2, 1):uint()] ~= nil
        and WORD_SIZES[tvb(offset + 3, 1):uint()] ~= nil
end

-- "be32", "le64", ...
local function profile_name(order, word)
    return (order == 1 and "le" or "be") .. tostring(word * 8)
end

-- Adds the label subtree; returns little_endian (bool) and the profile name.
local function add_label(tree, tvb, offset, f)
    local order = tvb(offset + 2, 1):uint()
    local word = tvb(offset + 3, 1):uint()
    local name = profile_name(order, word)
    local sub = tree:add(f.label, tvb(offset, 4), name)
    sub:append_text(" (" .. BYTE_ORDERS[order] .. ", " .. WORD_SIZES[word] .. " words)")
    sub:add(f.label_magic, tvb(offset, 1))
    sub:add(f.label_version, tvb(offset + 1, 1))
    sub:add(f.label_order, tvb(offset + 2, 1))
    sub:add(f.label_word, tvb(offset + 3, 1))
    return order == 1, name
end

local function label_fields(prefix)
    return {
        label = ProtoField.string(prefix .. ".label", "Sender's representation"),
        label_magic = ProtoField.uint8(prefix .. ".label.magic", "Label magic", base.HEX),
        label_version = ProtoField.uint8(prefix .. ".label.version", "Label version", base.DEC),
        label_order = ProtoField.uint8(prefix .. ".label.byte_order", "Byte order", base.DEC, BYTE_ORDERS),
        label_word = ProtoField.uint8(prefix .. ".label.word_size", "Word size (bytes)", base.DEC, WORD_SIZES),
    }
end

-- Reads a u32 in the message's byte order.
local function u32(range, le)
    if le then return range:le_uint() else return range:uint() end
end

-- Adds a number field in the message's byte order.
local function add_num(tree, field, range, le)
    if le then return tree:add_le(field, range) else return tree:add(field, range) end
end

-- Runs `one(tvb, pinfo, tree, offset, len)` for every whole frame of a u32 big-endian
-- length-prefixed TCP stream; asks for more bytes when a frame is cut. `max` bounds the
-- length a frame may declare.
local function dissect_frames(tvb, pinfo, tree, max, one)
    local offset = 0
    local total = tvb:len()
    while offset < total do
        if total - offset < 4 then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            return total
        end
        local len = tvb(offset, 4):uint()
        if len > max then
            return 0 -- not ours (or a lying length): let other dissectors try
        end
        if total - offset < 4 + len then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = 4 + len - (total - offset)
            return total
        end
        one(tvb, pinfo, tree, offset, len)
        offset = offset + 4 + len
    end
    return total
end

-------------------------------------------------------------------------------------------
-- rpc-lite (rpc-lite/PROTOCOL.md)
-------------------------------------------------------------------------------------------

local rpclite = Proto("rpclite", "rpc-lite")
local RPC_PORT = 7470
local RPC_HEADER = 36
local RPC_MAX_FRAME = 1024 * 1024
local DEMO_PROGRAM = 0x20007470

local KINDS = { [1] = "call", [2] = "reply", [3] = "error" }
local PROGRAMS = { [DEMO_PROGRAM] = "demo" }
local DEMO_PROCEDURES = {
    [0] = "describe", [1] = "add", [2] = "divide", [3] = "get", [4] = "put",
    [5] = "delete", [6] = "echo", [7] = "sleep", [8] = "incr",
}
local FAULTS = {
    [1] = "UNKNOWN_PROGRAM", [2] = "VERSION_MISMATCH", [3] = "UNKNOWN_PROCEDURE",
    [4] = "BAD_REQUEST", [5] = "TOO_LARGE", [6] = "UNREPRESENTABLE", [7] = "APPLICATION",
}
local DEMO_ERRORS = { [1] = "DivisionByZero", [2] = "Overflow", [3] = "StoreFull", [4] = "TooLong" }

local rf = label_fields("rpclite")
rf.length = ProtoField.uint32("rpclite.length", "Frame length", base.DEC)
rf.magic = ProtoField.string("rpclite.magic", "Magic")
rf.version = ProtoField.uint8("rpclite.version", "Protocol version", base.DEC)
rf.kind = ProtoField.uint8("rpclite.kind", "Kind", base.DEC, KINDS)
rf.reserved = ProtoField.uint16("rpclite.reserved", "Reserved", base.HEX)
rf.call_id = ProtoField.uint64("rpclite.call_id", "Call id", base.DEC)
rf.program = ProtoField.uint32("rpclite.program", "Program", base.HEX, PROGRAMS)
rf.prog_version = ProtoField.uint32("rpclite.program_version", "Program version", base.DEC)
rf.procedure = ProtoField.uint32("rpclite.procedure", "Procedure", base.DEC)
rf.proc_name = ProtoField.string("rpclite.procedure_name", "Procedure name")
rf.deadline = ProtoField.uint32("rpclite.deadline_ms", "Deadline (ms, 0 = none)", base.DEC)
rf.body = ProtoField.bytes("rpclite.body", "Body")
rf.fault_code = ProtoField.uint32("rpclite.fault.code", "Fault code", base.DEC, FAULTS)
rf.fault_message = ProtoField.string("rpclite.fault.message", "Fault message")
rf.fault_detail = ProtoField.bytes("rpclite.fault.detail", "Fault detail")
rf.app_error = ProtoField.uint32("rpclite.fault.app_error", "Application error", base.DEC, DEMO_ERRORS)
rf.request_in = ProtoField.framenum("rpclite.request_in", "Call in frame")
rf.response_in = ProtoField.framenum("rpclite.response_in", "Answer in frame")
rf.time = ProtoField.relative_time("rpclite.time", "Time since the call")
rpclite.fields = rf

-- Calls seen, by "client address:port/call id": frame and time of the call, frame of the
-- answer. Filled on the first pass; `tshark -2` (and Wireshark) show both directions' links.
local rpc_calls = {}

function rpclite.init()
    rpc_calls = {}
end

local function call_key(addr, port, id)
    return tostring(addr) .. ":" .. tostring(port) .. "/" .. tostring(id)
end

local function add_fault(tree, tvb, offset, finish, le, program)
    if finish - offset < 8 then return end
    local code = u32(tvb(offset, 4), le)
    add_num(tree, rf.fault_code, tvb(offset, 4), le)
    local mlen = u32(tvb(offset + 4, 4), le)
    if offset + 8 + mlen > finish then return end
    if mlen > 0 then tree:add(rf.fault_message, tvb(offset + 8, mlen)) end
    local detail = offset + 8 + mlen
    if detail < finish then
        local d = tree:add(rf.fault_detail, tvb(detail, finish - detail))
        if code == 7 and program == DEMO_PROGRAM and finish - detail >= 4 then
            add_num(d, rf.app_error, tvb(detail, 4), le)
        end
    end
    return FAULTS[code] or ("fault " .. code)
end

-- One rpc-lite message at `offset`, `len` bytes; `framed`: preceded by its u32 length.
local function dissect_rpc_message(tvb, pinfo, tree, offset, len, framed)
    local start = framed and offset + 4 or offset
    local total = framed and len + 4 or len
    local root = tree:add(rpclite, tvb(offset, total))
    if framed then root:add(rf.length, tvb(offset, 4)) end
    if len < RPC_HEADER or tvb(start, 4):string() ~= "RPCL" or not is_label(tvb, start + 4) then
        root:append_text(" (not a readable header)")
        return
    end
    root:add(rf.magic, tvb(start, 4))
    local le, profile = add_label(root, tvb, start + 4, rf)
    root:add(rf.version, tvb(start + 8, 1))
    local kind = tvb(start + 9, 1):uint()
    root:add(rf.kind, tvb(start + 9, 1))
    root:add(rf.reserved, tvb(start + 10, 2))
    local id_range = tvb(start + 12, 8)
    local id = le and id_range:le_uint64() or id_range:uint64()
    add_num(root, rf.call_id, id_range, le)
    local program = u32(tvb(start + 20, 4), le)
    add_num(root, rf.program, tvb(start + 20, 4), le)
    add_num(root, rf.prog_version, tvb(start + 24, 4), le)
    local procedure = u32(tvb(start + 28, 4), le)
    add_num(root, rf.procedure, tvb(start + 28, 4), le)
    local name = program == DEMO_PROGRAM and DEMO_PROCEDURES[procedure] or nil
    if name then root:add(rf.proc_name, tvb(start + 28, 4), name) end
    add_num(root, rf.deadline, tvb(start + 32, 4), le)
    local finish = start + len
    local what = KINDS[kind] or ("kind " .. kind)
    if kind == 3 then
        local fault = add_fault(root, tvb, start + RPC_HEADER, finish, le, program)
        if fault then what = what .. " " .. fault end
    elseif finish > start + RPC_HEADER then
        root:add(rf.body, tvb(start + RPC_HEADER, finish - start - RPC_HEADER))
    end

    -- Matching calls and answers by (client address, port, call id).
    local key
    if kind == 1 then
        key = call_key(pinfo.src, pinfo.src_port, id)
        if not pinfo.visited and rpc_calls[key] == nil then
            rpc_calls[key] = { call = pinfo.number, time = pinfo.abs_ts }
        end
        local seen = rpc_calls[key]
        if seen and seen.answer then root:add(rf.response_in, seen.answer):set_generated() end
    else
        key = call_key(pinfo.dst, pinfo.dst_port, id)
        local seen = rpc_calls[key]
        if seen then
            if not pinfo.visited and seen.answer == nil then seen.answer = pinfo.number end
            root:add(rf.request_in, seen.call):set_generated()
            local dt = pinfo.abs_ts - seen.time
            local secs = math.floor(dt)
            root:add(rf.time, NSTime.new(secs, math.floor((dt - secs) * 1e9))):set_generated()
        end
    end
    local proc = name or tostring(procedure)
    root:append_text(string.format(", %s %s id %s (%s)", what, proc, tostring(id), profile))
    pinfo.cols.protocol = "rpc-lite"
    local info = string.format("%s %s id=%s %s", what, proc, tostring(id), profile)
    if tostring(pinfo.cols.info):find("rpc-lite:", 1, true) then
        pinfo.cols.info:append("; " .. info)
    else
        pinfo.cols.info = "rpc-lite: " .. info
    end
end

local function rpc_tcp(tvb, pinfo, tree)
    return dissect_frames(tvb, pinfo, tree, RPC_MAX_FRAME, function(t, p, tr, offset, len)
        dissect_rpc_message(t, p, tr, offset, len, true)
    end)
end

local function rpc_udp(tvb, pinfo, tree)
    dissect_rpc_message(tvb, pinfo, tree, 0, tvb:len(), false)
    return tvb:len()
end

local rpclite_udp = Proto("rpclite_udp", "rpc-lite over UDP")
function rpclite_udp.dissector(tvb, pinfo, tree) return rpc_udp(tvb, pinfo, tree) end
local rpclite_tcp = Proto("rpclite_tcp", "rpc-lite over TCP")
function rpclite_tcp.dissector(tvb, pinfo, tree) return rpc_tcp(tvb, pinfo, tree) end

DissectorTable.get("tcp.port"):add(RPC_PORT, rpclite_tcp)
DissectorTable.get("udp.port"):add(RPC_PORT, rpclite_udp)

-- Heuristics: the magic after the length (TCP) or at the start (UDP), then a valid label.
-- A match also claims the rest of the conversation, so later segments are read as frames.
rpclite_tcp:register_heuristic("tcp", function(tvb, pinfo, tree)
    if tvb:len() < 12 or tvb(4, 4):string() ~= "RPCL" or not is_label(tvb, 8) then
        return false
    end
    pinfo.conversation = rpclite_tcp
    rpc_tcp(tvb, pinfo, tree)
    return true
end)
rpclite_udp:register_heuristic("udp", function(tvb, pinfo, tree)
    if tvb:len() < RPC_HEADER or tvb(0, 4):string() ~= "RPCL" or not is_label(tvb, 4) then
        return false
    end
    rpc_udp(tvb, pinfo, tree)
    return true
end)

-------------------------------------------------------------------------------------------
-- framing's default frame with a labelled record inside (framing/PROTOCOL.md 1 and 4)
-------------------------------------------------------------------------------------------

local suiteframe = Proto("suiteframe", "framing frame (labelled record)")
local FRAME_MAX = 16 * 1024 * 1024
local ff = label_fields("suiteframe")
ff.length = ProtoField.uint32("suiteframe.length", "Payload length", base.DEC)
ff.record = ProtoField.bytes("suiteframe.record", "Record (in the sender's representation)")
ff.payload = ProtoField.bytes("suiteframe.payload", "Payload (unlabelled)")
suiteframe.fields = ff

local function frame_one(tvb, pinfo, tree, offset, len)
    local root = tree:add(suiteframe, tvb(offset, 4 + len))
    root:add(ff.length, tvb(offset, 4))
    local info
    if len >= 4 and is_label(tvb, offset + 4) then
        local _, profile = add_label(root, tvb, offset + 4, ff)
        if len > 4 then root:add(ff.record, tvb(offset + 8, len - 4)) end
        info = string.format("%s record, %d bytes", profile, len - 4)
    else
        if len > 0 then root:add(ff.payload, tvb(offset + 4, len)) end
        info = string.format("frame, %d bytes", len)
    end
    root:append_text(", " .. info)
    pinfo.cols.protocol = "framing"
    if tostring(pinfo.cols.info):find("framing:", 1, true) then
        pinfo.cols.info:append("; " .. info)
    else
        pinfo.cols.info = "framing: " .. info
    end
end

function suiteframe.dissector(tvb, pinfo, tree)
    return dissect_frames(tvb, pinfo, tree, FRAME_MAX, frame_one)
end

suiteframe:register_heuristic("tcp", function(tvb, pinfo, tree)
    if tvb:len() < 8 or tvb(0, 4):uint() > FRAME_MAX or tvb(0, 4):uint() < 4
        or not is_label(tvb, 4) then
        return false
    end
    pinfo.conversation = suiteframe
    suiteframe.dissector(tvb, pinfo, tree)
    return true
end)
DissectorTable.get("tcp.port"):add_for_decode_as(suiteframe)

-------------------------------------------------------------------------------------------
-- tcp chat lines (tcp/PROTOCOL.md section 1)
-------------------------------------------------------------------------------------------

local tcpchat = Proto("tcpchat", "tcp line chat")
local CHAT_PORT = 7070
local cf = {
    line = ProtoField.string("tcpchat.line", "Line"),
    kind = ProtoField.string("tcpchat.kind", "Kind"),
    name = ProtoField.string("tcpchat.name", "Name"),
    text = ProtoField.string("tcpchat.text", "Text"),
}
tcpchat.fields = cf

-- Names already sent on a connection, so a client's first line is known to be its name.
local chat_named = {}
function tcpchat.init() chat_named = {} end

local function chat_line(tvb, pinfo, tree, offset, len, to_server)
    local raw = tvb(offset, len)
    local text = raw:string(ENC_UTF_8):gsub("\r?\n$", "")
    local sub = tree:add(tcpchat, raw)
    sub:add(cf.line, raw, text)
    local kind, name, body
    if to_server then
        local conn = tostring(pinfo.src) .. ":" .. pinfo.src_port .. ">" .. tostring(pinfo.dst) .. ":" .. pinfo.dst_port
        local first = chat_named[conn]
        if first == nil and not pinfo.visited then
            chat_named[conn] = pinfo.number * 100000 + offset
            first = chat_named[conn]
        end
        if first == pinfo.number * 100000 + offset then
            kind, name = "name", text
        elseif text == "" then
            kind = "empty"
        elseif text:sub(1, 2) == "//" then
            kind, body = "message", text:sub(2)
        elseif text:sub(1, 1) == "/" then
            kind = "command " .. (text:match("^/(%S*)") or "")
        else
            kind, body = "message", text
        end
    else
        if text:sub(1, 2) == "* " then
            kind, body = "notice", text:sub(3)
        elseif text:sub(1, 2) == "! " then
            kind, body = "error", text:sub(3)
        else
            name, body = text:match("^(%S+): (.*)$")
            kind = name and "message" or "unknown"
        end
    end
    sub:add(cf.kind, raw, kind)
    if name then sub:add(cf.name, raw, name) end
    if body then sub:add(cf.text, raw, body) end
    sub:append_text(": " .. kind)
    pinfo.cols.protocol = "chat"
    local info = kind .. (name and (" " .. name) or "") .. (body and (" \"" .. body .. "\"") or "")
    if tostring(pinfo.cols.info):find("chat:", 1, true) then
        pinfo.cols.info:append("; " .. info)
    else
        pinfo.cols.info = "chat: " .. info
    end
end

function tcpchat.dissector(tvb, pinfo, tree)
    -- The server's port is the one the dissector was chosen by (7070, or "Decode As").
    local server_port = pinfo.match_uint ~= 0 and pinfo.match_uint or CHAT_PORT
    local to_server = pinfo.dst_port == server_port
    local offset = 0
    local total = tvb:len()
    while offset < total do
        local nl = nil
        for i = offset, total - 1 do
            if tvb(i, 1):uint() == 0x0a then nl = i break end
        end
        if nl == nil then
            -- A line cut across segments: ask for more (chat lines end in \n).
            pinfo.desegment_offset = offset
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            return total
        end
        chat_line(tvb, pinfo, tree, offset, nl - offset + 1, to_server)
        offset = nl + 1
    end
    return total
end
DissectorTable.get("tcp.port"):add(CHAT_PORT, tcpchat)

-------------------------------------------------------------------------------------------
-- multicast chat header (multicast/PROTOCOL.md section 2)
-------------------------------------------------------------------------------------------

local mcchat = Proto("mcchat", "multicast chat")
local MC_PORT = 4446
local mf = {
    magic = ProtoField.string("mcchat.magic", "Magic"),
    instance = ProtoField.string("mcchat.instance", "Instance id"),
    seq = ProtoField.string("mcchat.seq", "Sequence number (decimal)"),
    name = ProtoField.string("mcchat.name", "Name"),
    text = ProtoField.string("mcchat.text", "Text"),
    presence = ProtoField.string("mcchat.presence", "Presence"),
    malformed = ProtoField.string("mcchat.malformed", "Malformed"),
}
mcchat.fields = mf
local PRESENCE = { join = "joined", here = "still here", leave = "leaving" }

local function mc_dissect(tvb, pinfo, tree)
    local s = tvb:raw()
    local root = tree:add(mcchat, tvb())
    pinfo.cols.protocol = "mcchat"
    if s:sub(1, 7) ~= "chat/1 " then
        root:add(mf.malformed, tvb(), "not chat/1")
        pinfo.cols.info = "mcchat: not chat/1"
        return
    end
    root:add(mf.magic, tvb(0, 6))
    local id = s:sub(8, 23)
    if not id:match("^%x+$") or #id ~= 16 or s:sub(24, 24) ~= " " then
        root:add(mf.malformed, tvb(), "instance id")
        return
    end
    root:add(mf.instance, tvb(7, 16))
    local seq = s:match("^(%d+) ", 25)
    if seq == nil then
        root:add(mf.malformed, tvb(), "sequence number")
        return
    end
    root:add(mf.seq, tvb(24, #seq))
    local rest_at = 24 + #seq + 1
    local rest = s:sub(rest_at + 1)
    local name, text = rest:match("^([^%s:]+): (.*)$")
    local info
    if name then
        root:add(mf.name, tvb(rest_at, #name))
        if #text > 0 then root:add(mf.text, tvb(rest_at + #name + 2, #text)) end
        info = string.format("%s: %s", name, text)
    else
        local pname, word = rest:match("^([^%s:]+) %+(%a+)$")
        if pname == nil or PRESENCE[word] == nil then
            root:add(mf.malformed, tvb(), "separator or presence")
            pinfo.cols.info = "mcchat: malformed"
            return
        end
        root:add(mf.name, tvb(rest_at, #pname))
        root:add(mf.presence, tvb(rest_at + #pname + 1, #word + 1), word)
        info = string.format("%s +%s", pname, word)
    end
    root:append_text(", seq " .. seq .. ", " .. info)
    pinfo.cols.info = string.format("mcchat: seq=%s %s", seq, info)
end

function mcchat.dissector(tvb, pinfo, tree)
    mc_dissect(tvb, pinfo, tree)
    return tvb:len()
end
DissectorTable.get("udp.port"):add(MC_PORT, mcchat)
mcchat:register_heuristic("udp", function(tvb, pinfo, tree)
    if tvb:len() < 26 or tvb(0, 7):string() ~= "chat/1 " then return false end
    mc_dissect(tvb, pinfo, tree)
    return true
end)

-------------------------------------------------------------------------------------------
-- udp quote service (udp/PROTOCOL.md section 2)
-------------------------------------------------------------------------------------------

local udpquote = Proto("udpquote", "udp quote service")
local QUOTE_PORT = 7017
local QUOTE_TYPES = { [0x51] = "request", [0x41] = "quote", [0x45] = "error" }
local qf = {
    type = ProtoField.uint8("udpquote.type", "Type", base.HEX, QUOTE_TYPES),
    id = ProtoField.uint32("udpquote.id", "Request id", base.DEC),
    padding = ProtoField.uint32("udpquote.padding", "Padding (bytes)", base.DEC),
    padding_ok = ProtoField.bool("udpquote.padding_zero", "Padding all zero"),
    number = ProtoField.uint32("udpquote.number", "Quote number", base.DEC),
    quote = ProtoField.string("udpquote.quote", "Quote"),
    reason = ProtoField.string("udpquote.reason", "Reason"),
}
udpquote.fields = qf

function udpquote.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "quote"
    local root = tree:add(udpquote, tvb())
    if len < 5 or QUOTE_TYPES[tvb(0, 1):uint()] == nil then
        root:append_text(" (not a quote message: no reply is due)")
        pinfo.cols.info = "quote: not a quote message"
        return len
    end
    local t = tvb(0, 1):uint()
    root:add(qf.type, tvb(0, 1))
    root:add(qf.id, tvb(1, 4))
    local id = tvb(1, 4):uint()
    local info
    if t == 0x51 then
        local zero = true
        for i = 5, len - 1 do
            if tvb(i, 1):uint() ~= 0 then zero = false break end
        end
        root:add(qf.padding, tvb(5, len - 5), len - 5)
        root:add(qf.padding_ok, tvb(5, len - 5), zero)
        info = string.format("request id=%d, %d bytes (earns a reply of at most %d)", id, len, len)
    elseif t == 0x41 then
        if len < 9 then
            root:append_text(" (too short)")
            return len
        end
        root:add(qf.number, tvb(5, 4))
        if len > 9 then root:add(qf.quote, tvb(9, len - 9)) end
        info = string.format("quote id=%d #%d", id, tvb(5, 4):uint())
    else
        if len > 5 then root:add(qf.reason, tvb(5, len - 5)) end
        info = string.format("error id=%d", id)
    end
    root:append_text(", " .. info)
    pinfo.cols.info = "quote: " .. info
    return len
end
DissectorTable.get("udp.port"):add(QUOTE_PORT, udpquote)
