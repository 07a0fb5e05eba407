import Foundation

/// Reads an issue's words to decide what is asked. Any described symptom, in the title or the
/// body and in any language QFieldCloud users write, makes it a problem report, which is never
/// closed without a verified fix; a word asking to check does not outweigh it. Only a request to
/// look that describes nothing wrong is a status request, or a checklist when it is a standing
/// one ("weekly check"). When in doubt: problem.
///
/// Words are matched whole, after folding case and accents, so "down" does not fire inside
/// "download" and "prüfen" matches "prufen". A symptom noun right after "no"/"without"
/// ("no errors", "keine Fehler", "sin errores") is not a symptom; any other negation is one,
/// because "not syncing" and "do not appear" are how users describe faults.
enum IntentClassifier {
    static func classify(title: String, body: String) -> TicketIntent {
        let words = IssueWords(title + "\n" + body)
        if words.contains(any: IntentVocabulary.symptoms) { return .problem }
        if words.contains(any: IntentVocabulary.routines)
            || (words.contains(any: IntentVocabulary.recurrences) && words.contains(any: IntentVocabulary.lookRequests)) {
            return .checklist
        }
        if words.contains(any: IntentVocabulary.lookRequests) { return .status }
        return .problem
    }

    /// Whether the user talks about storage, space or quota in the sense of their QFieldCloud
    /// account or project quota. Users mean the account quota when they say "storage", so only
    /// words standing next to a host's disk ("disk space", "espace disque", "no space left on
    /// device", "object storage") are left out, and a word naming the account always counts.
    static func mentionsAccountQuota(title: String, body: String) -> Bool {
        let words = IssueWords(title + "\n" + body)
        if words.contains(any: IntentVocabulary.quotas) { return true }
        return words.positions(of: IntentVocabulary.storage).contains { at in
            let tokens = words.tokens
            let beside = tokens[max(0, at - 1)..<min(tokens.count, at + 2)]
            if beside.contains(where: IntentVocabulary.hostDiskWords.contains) { return false }
            let near = tokens[max(0, at - 3)..<min(tokens.count, at + 4)]
            if near.contains(where: IntentVocabulary.accountWords.contains) { return true }
            return !near.contains(where: IntentVocabulary.hostDiskWords.contains)
        }
    }
}

/// An issue's text as folded words (lower case, no accents, French elisions split off:
/// "n'est" → "n'", "est"), with the words of harmless phrases ("no errors") masked out.
struct IssueWords {
    let tokens: [String]
    private let masked: Set<Int>

    init(_ text: String) {
        let folded = text.replacingOccurrences(of: "’", with: "'").replacingOccurrences(of: "‘", with: "'").replacingOccurrences(of: "´", with: "'").replacingOccurrences(of: "`", with: "'")
            .folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased()
        var tokens: [String] = []
        var current = ""
        let characters = Array(folded)
        for (i, c) in characters.enumerated() {
            let inWord = c.isLetter || c.isNumber
                || (c == "'" && !current.isEmpty && i + 1 < characters.count && characters[i + 1].isLetter)
            if inWord {
                current.append(c)
            } else if !current.isEmpty {
                tokens.append(contentsOf: Self.splittingElision(current))
                current = ""
            }
        }
        if !current.isEmpty { tokens.append(contentsOf: Self.splittingElision(current)) }
        self.tokens = tokens
        var masked = Set<Int>()
        for phrase in IntentVocabulary.harmless {
            for start in Self.starts(of: phrase, in: tokens) { masked.formUnion(start..<start + phrase.parts.count) }
        }
        self.masked = masked
    }

    func contains(any phrases: [Phrase]) -> Bool { phrases.contains { !positions(of: $0).isEmpty } }

    /// Where each phrase starts, leaving out matches that touch a masked word.
    func positions(of phrases: [Phrase]) -> [Int] { phrases.flatMap(positions(of:)) }

    private func positions(of phrase: Phrase) -> [Int] {
        Self.starts(of: phrase, in: tokens).filter { start in !(start..<start + phrase.parts.count).contains(where: masked.contains) }
    }

    private static func starts(of phrase: Phrase, in tokens: [String]) -> [Int] {
        let n = phrase.parts.count
        guard n > 0, tokens.count >= n else { return [] }
        return (0...(tokens.count - n)).filter { start in
            phrase.parts.indices.allSatisfy { phrase.parts[$0].matches(tokens[start + $0]) }
        }
    }

    private static let elisions: Set<String> = ["c", "d", "j", "l", "m", "n", "s", "t", "qu", "jusqu", "lorsqu", "puisqu"]

    private static func splittingElision(_ word: String) -> [String] {
        guard let quote = word.firstIndex(of: "'"), elisions.contains(String(word[..<quote])) else { return [word] }
        let rest = String(word[word.index(after: quote)...])
        return [String(word[...quote])] + (rest.isEmpty ? [] : splittingElision(rest))
    }
}

/// Consecutive words; a word ending in `*` matches any word it begins ("fail*": "failed",
/// "failure"), one starting with `*` any word it ends ("*ing": "logging").
struct Phrase: ExpressibleByStringLiteral, Sendable {
    enum Part: Sendable {
        case word(String), prefix(String), suffix(String)

        func matches(_ token: String) -> Bool {
            switch self {
            case .word(let w): token == w
            case .prefix(let p): token.hasPrefix(p)
            case .suffix(let s): token.hasSuffix(s) && token.count > s.count
            }
        }
    }

    let parts: [Part]

    init(stringLiteral value: String) {
        parts = value.split(separator: " ").map { word in
            if word.hasSuffix("*") { return .prefix(String(word.dropLast())) }
            if word.hasPrefix("*") { return .suffix(String(word.dropFirst())) }
            return .word(String(word))
        }
    }
}

/// The words, folded as `IssueWords` folds them (lower case, no accents).
enum IntentVocabulary {
    /// Anything that describes a fault. Generous on purpose: a false match keeps a ticket open
    /// for a person, a missed one closes a real problem as healthy.
    static let symptoms: [Phrase] = [
        // English: failure words, codes and the ways users describe a fault.
        "error*", "fail*", "crash*", "broken", "broke", "breaks", "stuck", "hang", "hangs", "hanging", "hung",
        "freez*", "froze", "frozen", "timeout*", "timed out", "time out", "times out", "slow*", "lag", "lagging", "laggy",
        "unreachable", "unavailable", "unresponsive", "inaccessible", "outage*", "down", "downtime", "offline", "degraded",
        "unhealthy", "dead", "died", "dies", "dying", "exited", "exit code", "panic*", "fatal", "critical", "killed",
        "sigkill", "oom*", "restarting", "stopped", "stops", "missing", "lost", "lose", "losing", "loss", "disappear*",
        "vanish*", "gone", "corrupt*", "invalid", "denied", "forbidden", "unauthori*", "refus*", "reject*", "abort*",
        "exception*", "traceback", "problem*", "trouble*", "bug", "bugs", "buggy", "wrong", "weird", "strange*",
        "unexpected*", "empty", "blank", "warning*", "expired", "exceed*", "over quota", "is full", "are full",
        "disk full", "storage full", "quota full", "almost full", "full disk", "out of space", "out of storage",
        "out of memory", "ran out", "running out", "pending", "queued", "backlog", "forever", "endless*", "infinite*",
        "red", "bad", "help", "why", "unable", "impossible", "logged out", "logging me out", "logs me out",
        "log me out", "signed out", "kicked out", "disconnect*", "greyed", "grayed", "keep* *ing", "kept *ing",
        // What users saw, or a change over time, is a description: "the page shows …", "since yesterday".
        "shows", "showing", "displays", "says", "saying", "i get", "we get", "i got", "we got", "getting", "i see",
        "we see", "seeing", "users see", "they see", "old version", "older version", "message*", "popup", "pops up", "twice", "duplicat*", "outdated", "instead of", "since",
        "400", "401", "402", "403", "404", "408", "413", "429", "500", "502", "503", "504",
        // "issue" alone is the tracker's word for any ticket; with these it is a problem.
        "issue* with", "issue* in", "issue* on", "issue* when", "issue* while", "issue* since", "issue* after",
        "issue* during", "issue* using", "issue* syncing", "an issue", "some issues", "same issue", "this issue",
        "having issue*", "have issue*", "had issue*", "sync issue*", "login issue*", "upload issue*",
        "download issue*", "server issue*", "temporary issue*",
        // English negations: "not syncing", "do not appear", "no longer", "never finishes".
        "not", "no", "never", "nothing", "none", "nobody", "nowhere", "neither", "nor", "cannot", "can't", "cant",
        "couldn't", "couldnt", "don't", "dont", "doesn't", "doesnt", "didn't", "didnt", "isn't", "isnt", "aren't",
        "arent", "wasn't", "wasnt", "weren't", "won't", "wont", "wouldn't", "hasn't", "haven't", "hadn't", "shouldn't",
        // French.
        "ne", "n'", "pas", "jamais", "rien", "aucun*", "erreur*", "echec*", "echou*", "plante", "plantee", "plantage*",
        "bloqu*", "panne*", "hors service", "hors ligne", "lent", "lente", "lenteur*", "perdu*", "manqu*", "disparu*",
        "souci*", "beug*", "deconnect*", "indisponible", "vide", "aide", "pourquoi",
        // Spanish.
        "nunca", "nada", "ningun*", "fallo*", "falla*", "fallid*", "lento", "lenta", "caido", "caida", "perdid*",
        "colgad*", "bloquead*", "imposible", "desaparec*", "vacio", "ayuda", "por que", "sin conexion",
        // German.
        "nicht", "kein*", "nie", "nichts", "nimmer", "seit", "fehler*", "fehlgeschlagen", "scheitert", "gescheitert", "kaputt",
        "absturz*", "abgesturzt", "sturzt", "hangt", "haengt", "langsam", "verloren", "fehlt", "fehlen", "fehlend*",
        "storung*", "ausfall*", "ausgefallen", "unerreichbar", "abgemeldet", "ungultig", "leer", "hilfe", "warum", "wieso",
        // Italian.
        "non", "mai", "niente", "nessun*", "fallit*", "fallisce", "blocc*", "perso", "persi", "persa", "mancan*",
        "impossibile", "guast*", "sparit*", "vuoto", "aiuto", "perche",
        // Portuguese.
        "nao", "nenhum*", "erro", "erros", "falha*", "falhou", "trava", "travado", "travada", "travou", "travando",
        "sumiu", "sumiram", "impossivel", "caiu", "fora do ar", "vazio", "ajuda",
    ]

    /// Phrases that say nothing is wrong; their words are not symptoms ("no errors so far").
    static let harmless: [Phrase] = [
        "no error*", "no problem*", "no issue*", "without error*", "without problem*", "without issue*",
        "not urgent", "nothing urgent", "no rush", "no hurry",
        "pas d' erreur*", "pas de probleme*", "sans erreur*", "sans probleme*", "aucune erreur*", "aucun probleme*",
        "sin error*", "sin problema*", "ningun error*", "ningun problema*", "no hay error*",
        "keine fehler*", "keine probleme*", "ohne fehler*", "ohne probleme*", "nicht dringend",
        "nessun errore", "nessun problema", "senza error*", "senza problem*", "non urgente",
        "sem erro*", "sem problema*", "nenhum erro*", "nenhum problema*",
    ]

    /// A request to look.
    static let lookRequests: [Phrase] = [
        "status*", "statut", "estado", "stato", "zustand", "state of", "check", "checks", "checking", "checked",
        "health*", "verify", "verif*", "prufen", "prufung", "uberprufen", "revision", "nachsehen", "nachschauen", "kontrollier*",
        "controll*", "controler", "controlar", "comprobar", "revisar", "ping", "uptime", "sanity", "alive",
        "is it up", "are you up", "up and running", "everything ok", "everything okay", "everything fine",
        "everything good", "everything alright", "all ok", "all good", "all fine", "all well", "look at",
        "have a look", "take a look", "tout va bien", "tout est ok", "todo bien", "todo ok", "todo esta bien",
        "todo correcto", "alles ok", "alles gut", "alles in ordnung", "lauft alles", "tutto ok", "tutto bene",
        "tutto a posto", "funziona tutto", "tudo bem", "tudo ok", "tudo certo",
    ]

    /// A standing chore by itself.
    static let routines: [Phrase] = [
        "checklist*", "maintenance", "routine*", "housekeeping", "regular check*", "periodic*", "recurring", "recurrent",
        "entretien", "mantenimiento", "rutina*", "wartung*", "periodisch*", "manutenzione", "manutencao", "rotina*",
    ]

    /// A rhythm; with a request to look it makes a checklist ("weekly check", "daily health check").
    static let recurrences: [Phrase] = [
        "weekly", "monthly", "daily", "nightly", "hourly", "quarterly", "yearly", "annual*",
        "every day", "every *day", "every week", "every month", "every morning", "each week", "each month", "once a week", "once a month",
        "hebdomadaire*", "mensuel*", "quotidien*", "journalier*", "tous les jours", "chaque semaine", "chaque mois",
        "semanal*", "mensual*", "diari*", "cada semana", "cada mes", "todos los dias",
        "wochentlich*", "monatlich*", "taglich*", "jede woche", "jeden monat", "jeden tag", "regelmassig*", "regelmaßig*",
        "settimanal*", "mensil*", "giornalier*", "quotidian*", "ogni settimana", "ogni mese", "ogni giorno",
        "mensal*", "todos os dias", "toda semana", "todo mes",
    ]

    /// Always the account quota.
    static let quotas: [Phrase] = ["quota*", "over_quota", "cuota*", "kontingent*", "speicherkontingent*", "speicherlimit*"]

    /// The account quota unless a host's disk is named next to it.
    static let storage: [Phrase] = [
        "storage", "space", "speicher", "speicherplatz", "stockage", "espace", "espacio", "almacenamiento", "spazio",
        "archiviazione", "armazenamento", "espaco",
    ]

    static let accountWords: Set<String> = [
        "account", "accounts", "compte", "cuenta", "konto", "conta", "plan", "subscription", "abonnement", "organization",
        "organisation", "organizacion", "organizzazione", "organizacao", "project", "projects", "projet", "proyecto",
        "projekt", "progetto", "projeto", "user", "utilisateur", "usuario", "benutzer", "utente", "qfieldcloud", "cloud",
        "my", "mon", "ma", "mes", "mi", "mein", "meine", "meinem", "mio", "mia", "meu", "minha", "our", "notre", "nuestro",
        "unser", "unsere", "nostro", "nosso", "buy", "add", "more",
    ]

    static let hostDiskWords: Set<String> = [
        "disk", "disks", "disque", "disco", "festplatte", "hdd", "ssd", "partition", "volume", "volumes", "device",
        "filesystem", "object", "s3", "minio", "docker", "host", "server", "servers", "serveur", "servidor", "vps", "root",
    ]
}

/// Which host an issue is about: a `host:NAME` label, a `host: NAME` line in the body, or
/// the only host there is.
enum HostResolver {
    enum Outcome: Equatable, Sendable {
        case host(String)
        case ambiguous([String])
        case unknown(String, known: [String])
        case noHosts
    }

    static func resolve(labels: [String], body: String, hosts: [String]) -> Outcome {
        var named: [String] = labels.compactMap { label in
            let lower = label.lowercased()
            guard lower.hasPrefix("host:") else { return nil }
            return String(label.dropFirst(5)).trimmingCharacters(in: .whitespaces)
        }
        if named.isEmpty {
            for line in body.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                let stripped = trimmed.hasPrefix("- ") || trimmed.hasPrefix("* ") ? String(trimmed.dropFirst(2)) : trimmed
                if stripped.lowercased().hasPrefix("host:") {
                    let value = stripped.dropFirst(5).trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`*"))
                    if let word = value.split(separator: " ").first { named.append(String(word)) }
                }
            }
        }
        let unique = Array(Set(named)).sorted()
        if unique.count > 1 { return .ambiguous(unique) }
        if let name = unique.first {
            return hosts.contains(name) ? .host(name) : .unknown(name, known: hosts)
        }
        switch hosts.count {
        case 0: return .noHosts
        case 1: return .host(hosts[0])
        default: return .ambiguous(hosts)
        }
    }
}

/// `/fieldmedic VERB [ARG]` in a comment.
struct ChatCommand: Equatable, Sendable {
    enum Verb: String, Sendable, CaseIterable { case approve, deny, diagnose, dryRun = "dry-run", retry }
    var verb: Verb
    var argument: String?

    /// The first `/fieldmedic` line of the comment; nil when there is none. An unknown verb
    /// is reported as `.failure` so the author gets an answer.
    static func parse(_ body: String) -> Result<ChatCommand, ChatCommandError>? {
        for line in body.split(whereSeparator: \.isNewline) {
            let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
            guard let first = words.first, first.lowercased() == "/fieldmedic" else { continue }
            guard words.count >= 2 else { return .failure(ChatCommandError(text: String(line))) }
            guard let verb = Verb(rawValue: words[1].lowercased()) else { return .failure(ChatCommandError(text: String(line))) }
            return .success(ChatCommand(verb: verb, argument: words.count > 2 ? String(words[2]) : nil))
        }
        return nil
    }
}

struct ChatCommandError: Error, Equatable, Sendable {
    var text: String
}
