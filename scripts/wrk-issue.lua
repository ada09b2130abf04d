-- wrk script: POST /api/v1/licenses with a fresh source.record_id each time.
-- Usage (a library served on :18080, an issuer_clerk token of org 150102):
--   TOKEN=$(zhengzhao token create --org 150102 --role issuer_clerk --label wrk)
--   TOKEN=$TOKEN wrk -t1 -c64 -d10s -s scripts/wrk-issue.lua --latency http://127.0.0.1:18080/
counter = 0
local thread_id = 0
function setup(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
function init(args) prefix = "W" .. tid .. "-" .. tostring(os.time()) .. "-" end
request = function()
  counter = counter + 1
  local body = '{"type_code":"11100000MB0143028R001","issuer":"150102","holder":{"name":"呼和浩特市测试有限公司","id_type":"uscc","id":"91150102MA0N4JXK2C"},"face":{"credit_code":"91150102MA0N4JXK2C","name":"呼和浩特市测试有限公司","entity_type":"有限责任公司（自然人投资或控股）","legal_representative":"张三","business_scope":"软件开发；信息技术咨询服务；数据处理和存储支持服务；计算机软硬件及辅助设备零售。（依法须经批准的项目，经相关部门批准后方可开展经营活动）","registered_capital":"1000000","established_date":"2024-01-15","domicile":"内蒙古自治区呼和浩特市新城区某某路88号","registration_authority":"150102","registration_date":"2024-01-15"},"valid_from":"2024-01-15","valid_until":null,"source":{"system":"wrk","record_id":"' .. prefix .. counter .. '"}}'
  return wrk.format("POST", "/api/v1/licenses", {["Content-Type"]="application/json", ["Authorization"]="Bearer " .. os.getenv("TOKEN")}, body)
end
