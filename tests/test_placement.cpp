// Placement validation, JSON round trip and the uniform split.
#include "common/error.h"
#include "common/rng.h"
#include "placement/placement.h"
#include "placement/placement_edit.h"
#include "test_util.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

using namespace fairkv;

class TestPlacement : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void uniformIsContiguousAndEven()
    {
        const Placement p = Placement::uniform(2, 8, 4, 3);
        p.validate(2, 8, 4, 3);
        for (int u = 0; u < 8; ++u)
            QCOMPARE(p.layers[0][size_t(u)].replicas[0].rank, u / 2);
        QCOMPARE(p.replicasOn(1, 3), 2);
        const Placement odd = Placement::uniform(1, 8, 3, 1);
        QCOMPARE(odd.replicasOn(0, 0) + odd.replicasOn(0, 1) + odd.replicasOn(0, 2), 8);
        QVERIFY(odd.replicasOn(0, 0) >= 2 && odd.replicasOn(0, 2) <= 3);
    }

    void jsonRoundTrip()
    {
        Placement p = Placement::uniform(2, 4, 2, 4);
        p.layers[1][3].replicas = {{0, {0, 2}}, {1, {1, 3}}};
        p.name = "hand-made";
        const Placement back = Placement::fromJson(p.toJson(), 4, "mem");
        back.validate(2, 4, 2, 4);
        QCOMPARE(back.name, std::string("hand-made"));
        QCOMPARE(back.layers[1][3].replicas.size(), size_t(2));
        QCOMPARE(back.layers[1][3].replicas[1].requests, (std::vector<int>{1, 3}));
        // A run result wrapping the placement is accepted too.
        const Placement wrapped = Placement::fromJson(nlohmann::json{{"placement", p.toJson()}}, 4, "run.json");
        QCOMPARE(wrapped.layers.size(), size_t(2));
    }

    void singleReplicaMayOmitRequests()
    {
        const auto j = nlohmann::json::parse(R"({"ranks": 2, "layers": [[{"unit": 1, "replicas": [{"rank": 1}]},
            {"unit": 0, "replicas": [{"rank": 0}]}]]})");
        const Placement p = Placement::fromJson(j, 3, "p.json");
        p.validate(1, 2, 2, 3);
        QCOMPARE(p.layers[0][0].unit, 0); // sorted by unit
        QCOMPARE(p.layers[0][1].replicas[0].requests, (std::vector<int>{0, 1, 2}));
    }

    void validationErrors_data()
    {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("needle");
        QTest::newRow("unit missing") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                      << QStringLiteral("places 1 units, the model has 2");
        QTest::newRow("duplicate unit") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0,1]}]},{"unit":0,"replicas":[{"rank":1,"requests":[0,1]}]}]])")
                                        << QStringLiteral("layer 0 places unit 0 twice");
        QTest::newRow("unit out of range") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0,1]}]},{"unit":5,"replicas":[{"rank":1,"requests":[0,1]}]}]])")
                                           << QStringLiteral("layer 0 places unit 5, out of range 0..1");
        QTest::newRow("rank out of range") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":2,"requests":[0,1]}]},{"unit":1,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                           << QStringLiteral("rank 2, out of range 0..1");
        QTest::newRow("request twice") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0,1]},{"rank":1,"requests":[1]}]},{"unit":1,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                       << QStringLiteral("request 1 is served by two replicas");
        QTest::newRow("request twice in one replica") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0,1,1]}]},{"unit":1,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                                      << QStringLiteral("replica on rank 0 lists request 1 twice");
        QTest::newRow("request missing") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0]}]},{"unit":1,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                         << QStringLiteral("request 1 is served by no replica");
        QTest::newRow("request out of batch") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0,1,5]}]},{"unit":1,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                              << QStringLiteral("names request 5, the batch has 2");
        QTest::newRow("two replicas one rank") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0,"requests":[0]},{"rank":0,"requests":[1]}]},{"unit":1,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                               << QStringLiteral("two replicas on rank 0");
        QTest::newRow("no replica") << QStringLiteral(R"([[{"unit":0,"replicas":[]},{"unit":1,"replicas":[{"rank":0,"requests":[0,1]}]}]])")
                                    << QStringLiteral("layer 0, unit 0 has no replica");
        QTest::newRow("layer count") << QStringLiteral(R"([[{"unit":0,"replicas":[{"rank":0}]},{"unit":1,"replicas":[{"rank":0}]}],[]])")
                                     << QStringLiteral("has 2 layers, the model has 1");
    }
    void validationErrors()
    {
        QFETCH(QString, json);
        QFETCH(QString, needle);
        nlohmann::json j = {{"ranks", 2}, {"layers", nlohmann::json::parse(json.toStdString())}};
        FAIRKV_EXPECT_ERROR(Placement::fromJson(j, 2, "p.json").validate(1, 2, 2, 2), needle.toStdString());
    }

    void malformedJson()
    {
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"layers": 3})"), 1, "p.json"), "p.json");
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"layers": [[{"unit": "a"}]]})"), 1, "p.json"),
                            "integer \"unit\"");
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"layers": [[{"unit": 0, "replicas": [{"rank": 0}, {"rank": 1}]}]]})"), 2, "p.json"),
                            "must list each replica's requests");
        FAIRKV_EXPECT_ERROR(Placement::fromFile("/nonexistent/p.json", 1), "cannot open placement file");
        FAIRKV_EXPECT_ERROR(Placement::fromFile(QDir::tempPath().toStdString(), 1), "is a folder, not a placement file");
        // Saving over a session (any SQLite database) is refused, whatever its name.
        QTemporaryDir dir;
        const std::string db = dir.filePath(QStringLiteral("session.json")).toStdString();
        std::ofstream(db, std::ios::binary) << std::string("SQLite format 3\0", 16) << std::string(4080, '\0');
        FAIRKV_EXPECT_ERROR(Placement::uniform(1, 2, 2, 1).saveFile(db), "is a session database");
        QCOMPARE(std::filesystem::file_size(db), uintmax_t(4096));
        // A file without "ranks" whose highest rank is idle is for the run's ranks; errors of the
        // check against the run name the file, not only the placement's own name.
        const std::string idle = dir.filePath(QStringLiteral("idle.json")).toStdString();
        std::ofstream(idle) << R"({"name": "mine", "layers": [[{"unit": 0, "replicas": [{"rank": 0}]}, {"unit": 1, "replicas": [{"rank": 1}]}]]})";
        QCOMPARE(Placement::fromFileFor(idle, 1, 2, 3, 2).ranks, 3);
        QCOMPARE(Placement::fromFile(idle, 2).ranks, 2);
        // ... and a replica beyond the run's ranks is named where it sits.
        FAIRKV_EXPECT_ERROR(Placement::fromFileFor(idle, 1, 2, 1, 2), "layer 0, unit 1 has a replica on rank 1, out of range 0..0");
        FAIRKV_EXPECT_ERROR(Placement::fromJson({{"name", std::string(300, 'n')}, {"layers", nlohmann::json::array()}}, 1, "p.json"),
                            "p.json: the placement's \"name\" is 300 bytes long, at most 256");
        // A "batch" must be the run's.
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"batch": 3, "layers": [[{"unit": 0, "replicas": [{"rank": 0}]}]]})"), 2, "p.json"),
                            "p.json: the placement is for a batch of 3 requests, the run has 2");
        FAIRKV_EXPECT_ERROR(Placement::fromFileFor(idle, 2, 2, 3, 2), idle + ": placement has 1 layer, the model has 2");
        // Nor over the log SQLite keeps beside it (the runs not yet in the main file), nor over a
        // FIFO, whose node the rename would replace.
        std::ofstream(db + "-wal") << "log";
        FAIRKV_EXPECT_ERROR(Placement::uniform(1, 2, 2, 1).saveFile(db + "-wal"), "the wal file SQLite keeps beside the session database");
        QCOMPARE(std::filesystem::file_size(db + "-wal"), uintmax_t(3));
        const std::string fifo = dir.filePath(QStringLiteral("p.json")).toStdString();
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        FAIRKV_EXPECT_ERROR(Placement::uniform(1, 2, 2, 1).saveFile(fifo), "is not a regular file");
        QVERIFY(std::filesystem::is_fifo(fifo));
        // Through a link, the file it leads to is written and the link stays; an existing file's
        // permission bits stay (a rename over them had made every output 0644, and a link a file).
        const std::string real = dir.filePath(QStringLiteral("real.json")).toStdString();
        const std::string link = dir.filePath(QStringLiteral("link.json")).toStdString();
        std::ofstream(real) << "old";
        std::filesystem::permissions(real, std::filesystem::perms(0640));
        std::filesystem::create_symlink("real.json", link);
        Placement::uniform(1, 2, 2, 1).saveFile(link);
        QVERIFY(std::filesystem::is_symlink(link));
        QCOMPARE(Placement::fromFile(real, 1).ranks, 2);
        QCOMPARE(std::filesystem::status(real).permissions(), std::filesystem::perms(0640));
        // A file this user may not write is refused, not replaced (root may write any file).
        if (geteuid() != 0) {
            std::filesystem::permissions(real, std::filesystem::perms(0444));
            FAIRKV_EXPECT_ERROR(Placement::uniform(1, 2, 2, 1).saveFile(real), "is read-only; not writing over it");
            FAIRKV_EXPECT_ERROR(Placement::uniform(1, 2, 2, 1).saveFile(link), "is read-only");
        }
        // Integers beyond an int are refused, not wrapped onto a valid rank, unit or request.
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"layers": [[{"unit": 0, "replicas": [{"rank": 4294967297}]}]]})"), 1, "p.json"),
                            "\"rank\" 4294967297 is out of range");
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"layers": [[{"unit": 4294967296, "replicas": [{"rank": 0}]}]]})"), 1, "p.json"),
                            "\"unit\" 4294967296 is out of range");
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"layers": [[{"unit": 0, "replicas": [{"rank": 0, "requests": [-1]}]}]]})"), 1, "p.json"),
                            "\"requests\" -1 is out of range");
        // A count written as text or with a fraction is refused, not ignored.
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"ranks": "8", "layers": []})"), 1, "p.json"),
                            "p.json: \"ranks\" must be a whole number, got \"8\"");
        FAIRKV_EXPECT_ERROR(Placement::fromJson(nlohmann::json::parse(R"({"batch": 3.0, "layers": []})"), 1, "p.json"),
                            "p.json: \"batch\" must be a whole number, got 3.0");
    }

    void wrongRankCount()
    {
        FAIRKV_EXPECT_ERROR(Placement::uniform(1, 4, 2, 1).validate(1, 4, 4, 1), "is for 2 ranks, the run has 4");
    }

    // The editor's operations on a 2-layer, 6-unit, 3-rank, batch-4 placement.
    void editsKeepThePlacementValid()
    {
        const Placement u = Placement::uniform(2, 6, 3, 4);
        Placement p = edit::moveReplica(u, 0, 1, 0, 2);
        QCOMPARE(p.layers[0][1].replicas[0].rank, 2);
        QCOMPARE(u.layers[0][1].replicas[0].rank, 0); // input untouched
        p = edit::addReplica(p, 0, 1, 1, {1, 3});
        QCOMPARE(p.layers[0][1].replicas.size(), size_t(2));
        QCOMPARE(p.layers[0][1].replicas[0].requests, (std::vector<int>{0, 2}));
        QCOMPARE(p.layers[0][1].replicas[1].requests, (std::vector<int>{1, 3}));
        p = edit::setRequests(p, 0, 1, 1, {0, 1, 3});
        QCOMPARE(p.layers[0][1].replicas[0].requests, (std::vector<int>{2}));
        p = edit::setRequests(p, 0, 1, 1, {0, 1, 2, 3}); // the other replica is emptied and dropped
        QCOMPARE(p.layers[0][1].replicas.size(), size_t(1));
        QCOMPARE(p.layers[0][1].replicas[0].rank, 1);
        p = edit::addReplica(p, 0, 1, 0, {2});
        p = edit::removeReplica(p, 0, 1, 1); // its request 2 goes back
        QCOMPARE(p.layers[0][1].replicas[0].requests, (std::vector<int>{0, 1, 2, 3}));
        p = edit::copyLayerToAll(p, 0);
        QCOMPARE(p.layers[1][1].replicas[0].rank, 1);
        p.validate(2, 6, 3, 4);
    }

    void editsThatWouldBreakItAreRefused_data()
    {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("message");
        QTest::newRow("move onto an existing replica") << 0 << QStringLiteral("already has a replica on rank");
        QTest::newRow("rank out of range") << 1 << QStringLiteral("rank 5 does not exist");
        QTest::newRow("remove the only replica") << 2 << QStringLiteral("only replica");
        QTest::newRow("no requests") << 3 << QStringLiteral("at least one request");
        QTest::newRow("request outside the batch") << 4 << QStringLiteral("request 9 is not in the batch");
        QTest::newRow("only replica gives requests up") << 5 << QStringLiteral("whole batch");
        QTest::newRow("unknown layer") << 6 << QStringLiteral("layer 4 is not in the placement");
    }
    void editsThatWouldBreakItAreRefused()
    {
        QFETCH(int, which);
        QFETCH(QString, message);
        Placement p = edit::addReplica(Placement::uniform(2, 6, 3, 4), 0, 0, 2, {3});
        try {
            switch (which) {
            case 0: edit::moveReplica(p, 0, 0, 0, 2); break;
            case 1: edit::moveReplica(p, 0, 0, 0, 5); break;
            case 2: edit::removeReplica(p, 1, 3, 0); break;
            case 3: edit::addReplica(p, 0, 2, 2, {}); break;
            case 4: edit::addReplica(p, 0, 2, 2, {9}); break;
            case 5: edit::setRequests(p, 1, 3, 0, {0}); break;
            case 6: edit::copyLayerToAll(p, 4); break;
            }
            QFAIL("the edit was accepted");
        } catch (const std::exception& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(message), e.what());
        }
    }

    // Random edit sequences: every accepted edit leaves a valid placement.
    void randomEditsStayValid()
    {
        Rng rng(99);
        for (int trial = 0; trial < 200; ++trial) {
            Placement p = Placement::uniform(3, 8, 4, 5);
            for (int k = 0; k < 30; ++k) {
                const int layer = int(rng.below(3)), unit = int(rng.below(8));
                const int replicas = int(p.layers[size_t(layer)][size_t(unit)].replicas.size());
                const int replica = int(rng.below(uint64_t(replicas))), rank = int(rng.below(4));
                std::vector<int> reqs;
                for (int r = 0; r < 5; ++r)
                    if (rng.below(2))
                        reqs.push_back(r);
                try {
                    switch (rng.below(5)) {
                    case 0: p = edit::moveReplica(p, layer, unit, replica, rank); break;
                    case 1: p = edit::addReplica(p, layer, unit, rank, reqs); break;
                    case 2: p = edit::removeReplica(p, layer, unit, replica); break;
                    case 3: p = edit::setRequests(p, layer, unit, replica, reqs); break;
                    default: p = edit::copyLayerToAll(p, layer); break;
                    }
                } catch (const Error&) {
                    continue; // refused with a reason: the placement is unchanged
                }
                p.validate(3, 8, 4, 5);
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestPlacement)
#include "test_placement.moc"
