package query

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// botocoreHelper runs botocore (Debian's python3-botocore) as the reference
// for EC2's Query protocol:
//
//   - serialize: the form parameters botocore's EC2Serializer (or the
//     Query serializer, for STS) sends for an operation's parameters;
//   - parse: what botocore's EC2QueryParser (QueryParser for STS) reads
//     from an answer, as JSON (timestamps as 2006-01-02T15:04:05.000Z,
//     blobs base64);
//   - sign: the headers botocore's SigV4Auth adds to a request.
const botocoreHelper = `
import base64, datetime, json, sys
import botocore.session, botocore.serialize, botocore.parsers
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

session = botocore.session.get_session()
loader = session.get_component('data_loader')
models = {}
def model(service):
    if service not in models:
        from botocore.model import ServiceModel
        models[service] = ServiceModel(loader.load_service_model(service, 'service-2'), service)
    return models[service]

def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc)
        return v.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (v.microsecond // 1000)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v

req = json.load(sys.stdin)
out = []
for c in req['cases']:
    svc = model(c['service'])
    if req['mode'] == 'serialize':
        op = svc.operation_model(c['action'])
        s = botocore.serialize.create_serializer(svc.metadata['protocol'], include_validation=False)
        body = s.serialize_to_request(c['params'], op)['body']
        out.append({k: str(v) for k, v in body.items()})
    elif req['mode'] == 'parse':
        op = svc.operation_model(c['action'])
        p = botocore.parsers.create_parser(svc.metadata['protocol'])
        r = p.parse({'body': c['body'].encode(), 'headers': {}, 'status_code': c.get('status', 200)}, op.output_shape)
        out.append(plain(r))
    elif req['mode'] == 'sign':
        r = AWSRequest(method='POST', url=c['url'], data=c['body'],
                       headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'})
        SigV4Auth(Credentials(c['key'], c['secret']), c['service'], c['region']).add_auth(r)
        out.append({k: v if isinstance(v, str) else v.decode() for k, v in r.headers.items()})
json.dump(out, sys.stdout)
`

// requireBotocore skips the test when python3 with botocore is missing.
func requireBotocore(t *testing.T) {
	t.Helper()
	if err := exec.Command("python3", "-c", "import botocore.parsers, botocore.serialize").Run(); err != nil {
		t.Skip("python3-botocore is not installed (apt-get install -y python3-botocore)")
	}
}

// botocore runs the helper in mode over cases and decodes its answers
// into out (a pointer to a slice).
func botocore(t *testing.T, mode string, cases []map[string]any, out any) {
	t.Helper()
	requireBotocore(t)
	in, err := json.Marshal(map[string]any{"mode": mode, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", botocoreHelper)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore %s: %v\n%s", mode, err, stderr.String())
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(out); err != nil {
		t.Fatalf("botocore %s: %v\n%s", mode, err, b)
	}
}
