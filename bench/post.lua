-- wrk script: every POST posts a new comment (its body numbered) as the iframe's script does.
-- A form's token posts one comment: the answer to each post brings the token for the next, and
-- a connection with none at hand asks for a reader's own (POST /api/v1/me), as the frame's
-- script does on opening (the document's token is shared by its readers).
local counter = 0
local origin = os.getenv("WIDGET_BENCH_ORIGIN")
local page = '{"site":"bench","page":"/posting/","url":"http://blog.localhost:8000/posting/"}'
local tokens = {}

request = function()
  local token = table.remove(tokens)
  if token == nil then
    return wrk.format("POST", "/api/v1/me", {
      ["Content-Type"] = "application/json",
      ["Origin"] = origin,
    }, page)
  end
  counter = counter + 1
  local body = string.format(
    '{"site":"bench","page":"/posting/","url":"http://blog.localhost:8000/posting/",' ..
    '"title":"Posting","name":"Bench","email":"bench@example.com",' ..
    '"form_token":"%s",' ..
    '"body":"Comment number %d from connection %s, with **some** markdown."}',
    token, counter, tostring(wrk.thread))
  return wrk.format("POST", "/api/v1/comments", {
    ["Content-Type"] = "application/json",
    ["Origin"] = origin,
  }, body)
end

response = function(status, headers, body)
  local token = body:match('"form_token":"([^"]+)"')
  if token ~= nil then
    table.insert(tokens, token)
  end
end
