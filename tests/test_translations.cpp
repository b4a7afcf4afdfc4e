// The German and Simplified Chinese catalogues are complete: every string the sources pass
// through tr() (as lupdate extracts them now) has a finished, non-empty translation with the same
// placeholders, and no catalogue keeps strings the sources no longer have.
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>

namespace {

struct Message
{
    QString translation; // numerus forms separated by U+001F
    QString type;        // "", "unfinished", "vanished", "obsolete"
    bool numerus = false;
};
using Catalogue = QMap<QPair<QString, QString>, Message>; // (context, source)

Catalogue readTs(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot open %s", qPrintable(path));
    Catalogue out;
    QXmlStreamReader xml(&f);
    QString context, source;
    Message m;
    bool numerus = false;
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement()) {
            if (xml.name() == QLatin1String("name")) {
                context = xml.readElementText();
            } else if (xml.name() == QLatin1String("message")) {
                m = Message();
                numerus = xml.attributes().value(QLatin1String("numerus")) == QLatin1String("yes");
                m.numerus = numerus;
            } else if (xml.name() == QLatin1String("source")) {
                source = xml.readElementText();
            } else if (xml.name() == QLatin1String("translation")) {
                m.type = xml.attributes().value(QLatin1String("type")).toString();
                if (!numerus) // multi-line texts: the whole element, not its first text chunk
                    m.translation = xml.readElementText();
            } else if (xml.name() == QLatin1String("numerusform")) {
                m.translation += xml.readElementText() + QChar(0x1f);
            }
        } else if (xml.isEndElement() && xml.name() == QLatin1String("message")) {
            out.insert({context, source}, m);
        }
    }
    if (xml.hasError())
        qFatal("%s: %s", qPrintable(path), qPrintable(xml.errorString()));
    return out;
}

QSet<QString> placeholders(const QString& s)
{
    QSet<QString> out;
    static const QRegularExpression re(QStringLiteral("%L?\\d+|%n"));
    for (auto it = re.globalMatch(s); it.hasNext();)
        out.insert(it.next().captured().remove(QLatin1Char('L')));
    return out;
}

} // namespace

class TestTranslations : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        const QString fresh = m_dir.filePath(QStringLiteral("fresh.ts"));
        const QString src = QStringLiteral(FAIRKV_SOURCE_DIR);
        QProcess lupdate;
        lupdate.start(QStringLiteral(FAIRKV_LUPDATE), {QStringLiteral("-silent"), QStringLiteral("-no-obsolete"),
                                                       QStringLiteral("-locations"), QStringLiteral("none"),
                                                       src + QStringLiteral("/views"), src + QStringLiteral("/app/gui"),
                                                       QStringLiteral("-ts"), fresh});
        QVERIFY2(lupdate.waitForFinished(120000) && lupdate.exitCode() == 0, lupdate.readAllStandardError().constData());
        m_sources = readTs(fresh);
        QVERIFY(m_sources.size() > 100);
    }

    void catalogueIsComplete_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<bool>("pluralOnly");
        QTest::newRow("de") << QStringLiteral(FAIRKV_SOURCE_DIR "/translations/fairkv_de.ts") << false;
        QTest::newRow("zh_CN") << QStringLiteral(FAIRKV_SOURCE_DIR "/translations/fairkv_zh_CN.ts") << false;
        // English needs only the plural forms of "%n run(s)" messages
        QTest::newRow("en") << QStringLiteral(FAIRKV_SOURCE_DIR "/translations/fairkv_en.ts") << true;
    }
    void catalogueIsComplete()
    {
        QFETCH(QString, file);
        QFETCH(bool, pluralOnly);
        const Catalogue cat = readTs(file);
        QStringList problems;
        for (auto it = m_sources.cbegin(); it != m_sources.cend(); ++it)
            if ((!pluralOnly || it->numerus) && !cat.contains(it.key()))
                problems << QStringLiteral("missing: [%1] %2").arg(it.key().first, it.key().second);
        for (auto it = cat.cbegin(); it != cat.cend(); ++it) {
            const QString where = QStringLiteral("[%1] %2").arg(it.key().first, it.key().second);
            if (!m_sources.contains(it.key()))
                problems << QStringLiteral("no longer in the sources: ") + where;
            else if (!it->type.isEmpty())
                problems << it->type + QStringLiteral(": ") + where;
            else if (it->translation.trimmed().isEmpty())
                problems << QStringLiteral("empty: ") + where;
            else {
                for (const QString& form : it->translation.split(QChar(0x1f), Qt::SkipEmptyParts))
                    if (placeholders(form) != placeholders(it.key().second))
                        problems << QStringLiteral("placeholders differ: ") + where;
            }
        }
        if (!problems.isEmpty())
            qWarning().noquote() << problems.mid(0, 30).join(QLatin1Char('\n'));
        QVERIFY2(problems.isEmpty(), qPrintable(QStringLiteral("%1 problem(s) in %2").arg(problems.size()).arg(file)));
    }

private:
    QTemporaryDir m_dir;
    Catalogue m_sources;
};

QTEST_GUILESS_MAIN(TestTranslations)
#include "test_translations.moc"
