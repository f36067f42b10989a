// Interop: Apache Kafka's Java client (kafka-clients) against the broker at RN_BOOTSTRAP.
// AdminClient creates a 3-partition topic and describes the cluster; a producer (idempotent
// by default since 3.0, acks=all) sends keyed records with headers; a consumer without a group
// reads them back by assign() + seekToBeginning(); listOffsets and offsetsForTimes agree.
// Prints TAP; exits 1 on any failure.
package dev.runnel.interop;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public final class InteropTest {
    private static int n, failed;

    private static void ok(boolean cond, String desc, Object detail) {
        n++;
        System.out.println((cond ? "ok " : "not ok ") + n + " - " + desc);
        if (!cond) {
            failed++;
            if (detail != null) System.out.println("# " + detail);
        }
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = System.getenv().getOrDefault("RN_BOOTSTRAP", "127.0.0.1:9092");
        long t0 = System.nanoTime();
        System.out.println("# kafka-clients " + org.apache.kafka.common.utils.AppInfoParser.getVersion()
                + " against " + bootstrap);
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(55_000);
                ok(false, "watchdog: still running after 55 s", null);
                System.out.println("1.." + n);
                System.out.flush();
                Runtime.getRuntime().halt(1);
            } catch (InterruptedException e) {
                // finished in time
            }
        });
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            run(bootstrap);
        } catch (Exception e) {
            ok(false, "raised " + e, Arrays.toString(e.getStackTrace()));
        }
        System.out.println("1.." + n);
        System.out.printf("# java: %d passed, %d failed in %.1f s%n", n - failed, failed,
                (System.nanoTime() - t0) / 1e9);
        System.exit(failed == 0 && n > 0 ? 0 : 1);
    }

    private static void run(String bootstrap) throws Exception {
        String topic = "rn-java-" + System.currentTimeMillis() / 1000 + "-"
                + Long.toHexString(new Random().nextLong() & 0xffffffffL);
        Properties common = new Properties();
        common.put("bootstrap.servers", bootstrap);
        common.put("request.timeout.ms", "10000");
        common.put("default.api.timeout.ms", "20000");
        final int total = 900;
        try (Admin admin = Admin.create(common)) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1)))
                    .all().get(15, TimeUnit.SECONDS);
            ok(true, "Admin.createTopics: 3 partitions", null);
            DescribeClusterResult dc = admin.describeCluster();
            ok(dc.nodes().get(10, TimeUnit.SECONDS).size() >= 1
                    && dc.clusterId().get(10, TimeUnit.SECONDS) != null,
                    "Admin.describeCluster: nodes and cluster id", null);
            TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(10, TimeUnit.SECONDS).get(topic);
            ok(td.partitions().size() == 3, "Admin.describeTopics: 3 partitions", td);

            Properties pp = (Properties) common.clone();
            pp.put("acks", "all");
            pp.put("linger.ms", "5");
            pp.put("compression.type", "lz4");
            Map<Integer, List<String>> sent = new TreeMap<>();
            try (Producer<String, String> producer =
                         new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                for (int i = 0; i < total; i++) {
                    ProducerRecord<String, String> r =
                            new ProducerRecord<>(topic, i % 3, "k" + i, "value-" + i);
                    r.headers().add("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                    fs.add(producer.send(r));
                }
                producer.flush();
                int acked = 0;
                for (int i = 0; i < total; i++) {
                    RecordMetadata md = fs.get(i).get(10, TimeUnit.SECONDS);
                    sent.computeIfAbsent(md.partition(), k -> new ArrayList<>()).add("value-" + i);
                    acked++;
                }
                ok(acked == total, "idempotent producer (acks=all, lz4): " + total + " acknowledged", null);
            }

            List<TopicPartition> tps = List.of(new TopicPartition(topic, 0),
                    new TopicPartition(topic, 1), new TopicPartition(topic, 2));
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (TopicPartition tp : tps) latest.put(tp, OffsetSpec.latest());
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> lo =
                    admin.listOffsets(latest).all().get(10, TimeUnit.SECONDS);
            ok(lo.values().stream().mapToLong(ListOffsetsResult.ListOffsetsResultInfo::offset).sum() == total,
                    "Admin.listOffsets(latest) adds up to " + total, lo);

            Properties cp = (Properties) common.clone();
            cp.put("enable.auto.commit", "false");
            cp.put("auto.offset.reset", "none");
            try (Consumer<String, String> consumer =
                         new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
                consumer.assign(tps);
                consumer.seekToBeginning(tps);
                Map<Integer, List<String>> got = new TreeMap<>();
                int count = 0;
                boolean headersOk = true, offsetsOk = true;
                long deadline = System.currentTimeMillis() + 20_000;
                while (count < total && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(300))) {
                        List<String> l = got.computeIfAbsent(r.partition(), k -> new ArrayList<>());
                        if (r.offset() != l.size()) offsetsOk = false;
                        l.add(r.value());
                        String i = new String(r.headers().lastHeader("i").value(), StandardCharsets.UTF_8);
                        if (!r.value().equals("value-" + i) || !r.key().equals("k" + i)) headersOk = false;
                        count++;
                    }
                }
                ok(got.equals(sent), "assign + seekToBeginning: every value back in order per partition",
                        "got " + count);
                ok(headersOk, "keys and headers intact", null);
                ok(offsetsOk, "offsets contiguous from 0", null);
                Map<TopicPartition, Long> query = new HashMap<>();
                for (TopicPartition tp : tps) query.put(tp, 0L);
                Map<TopicPartition, OffsetAndTimestamp> ts = consumer.offsetsForTimes(query);
                ok(ts.values().stream().allMatch(o -> o != null && o.offset() == 0),
                        "offsetsForTimes(0) = 0 everywhere", ts);
                Map<TopicPartition, Long> ends = consumer.endOffsets(tps);
                ok(ends.values().stream().mapToLong(Long::longValue).sum() == total,
                        "endOffsets add up to " + total, ends);
            }
            admin.deleteTopics(List.of(topic)).all().get(15, TimeUnit.SECONDS);
            ok(true, "Admin.deleteTopics", null);
        }
    }
}
