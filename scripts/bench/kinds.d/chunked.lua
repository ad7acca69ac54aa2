-- scripts/bench/kinds: a POST with a 1 KiB body sent chunked, in two
-- chunks (Transfer-Encoding: chunked), as a streaming client sends.
local part = string.rep("x", 512)
local chunk = "200\r\n" .. part .. "\r\n"
local req = "POST /upload HTTP/1.1\r\nHost: bench.test\r\nContent-Type: application/octet-stream\r\n" ..
  "Transfer-Encoding: chunked\r\n\r\n" .. chunk .. chunk .. "0\r\n\r\n"
request = function()
  return req
end
