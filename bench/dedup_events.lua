-- wrk script: each request a different dedup event, spread over many interactions, and about a
-- quarter of them re-sends of an earlier message (with new spacing/case), as CXone retries do.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tid * 7919 + os.time())
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local templ = '{"type":"conversations.messages.messageCreated","data":{"message":{"interactionId":"int-%d-%d","senderId":"cust-%d","content":"%s order %d has not arrived yet, could you check the delivery status please","sequenceNumber":%d}}}'

function request()
  counter = counter + 1
  local n = counter
  local text = "Hello"
  if counter > 4 and math.random() < 0.25 then
    n = counter - math.random(1, 4)   -- a re-send of a recent message
    text = "  hello "
  end
  local interaction = n % 50000
  local body = string.format(templ, tid, interaction, interaction, text, n, n)
  return wrk.format(nil, nil, nil, body)
end
