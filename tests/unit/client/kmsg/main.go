// Command kmsg writes test vectors for tests/unit/client/test_kmsg.c: random Kafka request
// and response bodies encoded by franz-go's kmsg package, an implementation independent of
// ours, for every api key and version that client/defs describes. Run it after changing
// the definitions' version ranges:
//
//	cd tests/unit/client/kmsg && go run . ../kmsg_vectors.bin
//
// File format, repeated: int16 api key, int16 version, int8 direction (0 request,
// 1 response), int32 length, body bytes (big-endian, no frame header).
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The api keys and version ranges of client/defs (min, max).
var apis = map[int16][2]int16{
	0: {0, 11}, 1: {0, 17}, 2: {0, 10}, 3: {0, 12}, 8: {0, 9}, 9: {0, 9}, 10: {0, 6},
	11: {0, 9}, 12: {0, 4}, 13: {0, 5}, 14: {0, 5}, 15: {0, 5}, 16: {0, 5}, 18: {0, 4},
	19: {0, 7}, 20: {0, 6}, 21: {0, 2}, 22: {0, 5}, 23: {0, 4}, 32: {0, 4}, 33: {0, 2},
	37: {0, 3}, 42: {0, 2}, 44: {0, 1}, 47: {0, 0}, 48: {0, 1}, 49: {0, 1}, 52: {0, 2}, 53: {0, 1}, 54: {0, 1},
	55: {0, 2}, 59: {0, 1}, 60: {0, 1}, 62: {0, 4}, 63: {0, 1}, 67: {0, 0},
}

const perVersion = 4

// kmsg writes a tagged field whenever it differs from its default, even in versions that
// Kafka's definitions (and ours) do not list it in, where a reader skips it as unknown.
// Fill tagged fields only from the version Kafka defines them in (99: not in our defs).
var taggedFrom = map[string]int16{
	"ProduceResponseTopicPartition.CurrentLeader": 10, "ProduceResponse.Brokers": 10,
	"FetchRequestTopicPartition.ReplicaDirectoryID": 17, "FetchRequestTopicPartition.HighWatermark": 99,
	"FetchRequest.ClusterID": 12, "FetchRequest.ReplicaState": 15,
	"FetchResponseTopicPartition.DivergingEpoch": 12, "FetchResponseTopicPartition.CurrentLeader": 12,
	"FetchResponseTopicPartition.SnapshotID": 12, "FetchResponse.Brokers": 16,
	"ApiVersionsResponse.SupportedFeatures": 3, "ApiVersionsResponse.FinalizedFeaturesEpoch": 3,
	"ApiVersionsResponse.FinalizedFeatures": 3, "ApiVersionsResponse.ZkMigrationReady": 3,
	"CreateTopicsResponseTopic.ConfigErrorCode": 5,
	"VoteResponse.NodeEndpoints":                1, "BeginQuorumEpochResponse.NodeEndpoints": 1,
	"EndQuorumEpochResponse.NodeEndpoints": 1, "FetchSnapshotResponse.NodeEndpoints": 1,
	"FetchSnapshotRequestTopicPartition.ReplicaDirectoryID": 1, "BrokerHeartbeatRequest.OfflineLogDirs": 1,
	"BrokerHeartbeatRequest.CordonedLogDirs": 99,
}

var rng = rand.New(rand.NewSource(20241123))

func fill(v reflect.Value, depth int, ver int16) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(rng.Intn(2) == 1)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch rng.Intn(6) {
		case 0:
			v.SetInt(-1)
		case 1:
			v.SetInt(rng.Int63() >> uint(64-v.Type().Bits()+1))
		default:
			v.SetInt(int64(rng.Intn(300)))
		}
	case reflect.Uint16, reflect.Uint32:
		v.SetUint(uint64(rng.Intn(70000)) & (1<<uint(v.Type().Bits()) - 1))
	case reflect.Float64:
		v.SetFloat(float64(rng.Intn(100)) / 4)
	case reflect.String:
		v.SetString(randString())
	case reflect.Array: // uuid
		for i := 0; i < v.Len(); i++ {
			v.Index(i).SetUint(uint64(rng.Intn(256)))
		}
	case reflect.Ptr:
		if rng.Intn(4) == 0 {
			return // nil: null where the version allows it
		}
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth, ver)
		v.Set(p)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // bytes, records
			if rng.Intn(5) == 0 {
				return
			}
			b := make([]byte, rng.Intn(12))
			rng.Read(b)
			v.SetBytes(b)
			return
		}
		if rng.Intn(6) == 0 || depth > 6 {
			return // nil: null or empty
		}
		n := rng.Intn(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			fill(s.Index(i), depth+1, ver)
		}
		v.Set(s)
	case reflect.Struct:
		t := v.Type()
		if m := v.Addr().MethodByName("Default"); m.IsValid() {
			m.Call(nil)
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "Version" || f.Name == "UnknownTags" {
				continue
			}
			if from, tagged := taggedFrom[t.Name()+"."+f.Name]; tagged && ver < from {
				continue
			}
			if rng.Intn(5) == 0 {
				continue // keep the default (tagged fields then stay unsent)
			}
			fill(v.Field(i), depth+1, ver)
		}
	}
}

func randString() string {
	const letters = "abcdefghijklmnopqrstuvwxyz-._"
	b := make([]byte, rng.Intn(8))
	for i := range b {
		b[i] = letters[rng.Intn(len(letters))]
	}
	return string(b)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run . OUTFILE")
		os.Exit(2)
	}
	var out bytes.Buffer
	count := 0
	for key := int16(0); key < 100; key++ {
		r, ok := apis[key]
		if !ok {
			continue
		}
		for ver := r[0]; ver <= r[1]; ver++ {
			for dir := 0; dir < 2; dir++ {
				for i := 0; i < perVersion; i++ {
					var msg interface {
						SetVersion(int16)
						AppendTo([]byte) []byte
					}
					if dir == 0 {
						msg = kmsg.RequestForKey(key)
					} else {
						msg = kmsg.ResponseForKey(key)
					}
					fill(reflect.ValueOf(msg).Elem(), 0, ver)
					msg.SetVersion(ver)
					body := msg.AppendTo(nil)
					binary.Write(&out, binary.BigEndian, key)
					binary.Write(&out, binary.BigEndian, ver)
					out.WriteByte(byte(dir))
					binary.Write(&out, binary.BigEndian, int32(len(body)))
					out.Write(body)
					count++
				}
			}
		}
	}
	if err := os.WriteFile(os.Args[1], out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d vectors, %d bytes\n", count, out.Len())
}
