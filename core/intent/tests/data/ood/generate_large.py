"""Writes en-large.txt and de-large.txt (the >= 500-sentence out-of-domain sets) beside this script."""
import itertools, os, random
rng = random.Random(15)
def take(lst, n):
    lst = list(dict.fromkeys(lst)); rng.shuffle(lst); return lst[:n]
EN = {}
people = ["the president of france", "the queen of england", "the richest man alive", "the author of harry potter",
          "the best football player", "the inventor of the telephone", "the lead singer of queen", "albert einstein",
          "the mayor of new york", "the ceo of apple", "your creator", "your best friend", "the fastest runner on earth",
          "the tallest person ever", "the king of spain", "the director of titanic", "the voice of darth vader",
          "the chancellor of germany", "the pope", "the founder of wikipedia"]
EN["q_who"] = [f"who is {p}" for p in people] + [f"who was {p}" for p in people] + [f"do you know who {p} is" for p in people[:10]]
things = ["the capital of australia", "the meaning of life", "the speed of light", "the boiling point of water",
          "the population of china", "the square root of two", "the longest river in africa", "the biggest animal",
          "photosynthesis", "a black hole", "the stock market", "bitcoin", "the theory of relativity",
          "your favourite colour", "your name", "the date of easter", "the highest mountain in europe", "a haiku",
          "the plural of octopus", "the distance to the moon"]
EN["q_what"] = [f"what is {t}" for t in things] + [f"tell me about {t}" for t in things] + [f"explain {t} to me" for t in things]
EN["q_how"] = [f"how {x}" for x in ["tall is the eiffel tower", "old is the universe", "do airplanes fly", "many legs does a spider have",
    "far away is the sun", "do i bake bread", "do you make pancakes", "long does it take to boil an egg", "many people live in tokyo",
    "deep is the ocean", "do magnets work", "heavy is an elephant", "do i tie a tie", "much does a car cost", "are you feeling",
    "was your day", "do you say thank you in japanese", "many calories are in an apple", "fast can a cheetah run", "big is the earth"]]
EN["q_when"] = [f"{w} {x}" for w, x in itertools.product(["when was", "where was"], ["the moon landing", "the eiffel tower built",
    "mozart born", "the first world war", "the berlin wall built", "the internet invented", "shakespeare born", "the titanic built",
    "the printing press invented", "the last olympics"])]
EN["q_why"] = [f"why {x}" for x in ["is the sky blue", "do cats purr", "is the ocean salty", "do we dream", "is grass green",
    "do leaves change colour", "are bananas curved", "do birds sing", "is water wet", "do we have fingerprints", "is the moon white",
    "do onions make you cry", "are flamingos pink", "is the sea blue", "do dogs bark"]]
EN["chat"] = ["tell me a joke", "tell me a story", "sing me a song", "how are you today", "what's up", "good morning", "good night",
    "thank you very much", "you are awesome", "i love you", "are you a robot", "do you have feelings", "what can you do",
    "i'm bored", "i feel sad today", "i'm so tired", "let's play a game", "can you dance", "do you like pizza", "what's your favourite movie",
    "hello there", "nice to meet you", "you're funny", "that was great", "never mind that", "i don't know", "maybe later", "who are you",
    "are you listening", "do you dream", "what do you think about cats", "i had a long day", "say something funny", "recommend a book",
    "give me a compliment", "tell me something interesting", "what should i cook tonight", "flip a coin", "roll a dice", "pick a number",
    "do you believe in ghosts", "what's the meaning of this", "happy birthday", "merry christmas", "cheers", "see you later", "bye bye",
    "how old are you", "where do you live", "are you married"]
devices = ["jacuzzi", "hot tub", "sauna", "pizza oven", "espresso machine", "lawn mower robot", "sprinkler system", "aquarium pump",
    "3d printer", "electric car charger", "pool heater", "waterbed", "karaoke machine", "disco ball", "popcorn maker", "snow machine",
    "bird feeder", "smoke machine", "treadmill", "massage chair"]
EN["devices"] = [f"{v} the {d}" for v, d in itertools.product(["start", "stop", "switch off", "activate", "reboot", "clean", "empty", "refill"], devices)]
EN["near"] = ["turn the", "set the", "switch", "lights", "turn", "what's the", "open", "close the", "set the temperature",
    "turn on turn off", "the kitchen", "lights lights lights", "brightness", "set a", "timer", "cancel", "add to the list", "play",
    "volume", "is the", "how many", "what is", "shopping list", "lock", "unlock the", "set the lights to", "turn up", "turn down the",
    "make it", "dim", "please", "can you", "could you please", "i want", "start", "pause the", "resume", "skip", "next", "previous the",
    "ok", "yes", "no", "stop stop", "hmm", "uh", "thanks", "again", "what", "why"]
EN["other"] = [f"{v} {o}" for v, o in itertools.product(["book a table for", "order", "buy", "send an email to", "call", "translate", "find", "draw me"],
    ["two people tonight", "a pizza with extra cheese", "new running shoes", "my boss about the meeting", "my mother", "hello into french",
    "the nearest gas station", "a cheap flight to rome", "a taxi to the airport", "tickets for the concert"])]
DE = {}
people_de = ["der Präsident von Frankreich", "die Königin von England", "der reichste Mann der Welt", "der Autor von Harry Potter",
    "der beste Fußballspieler", "der Erfinder des Telefons", "der Sänger von Queen", "Albert Einstein", "der Bürgermeister von Berlin",
    "der Chef von Apple", "dein Erfinder", "dein bester Freund", "der schnellste Läufer der Welt", "der größte Mensch aller Zeiten",
    "der König von Spanien", "der Regisseur von Titanic", "die Stimme von Darth Vader", "der Bundeskanzler", "der Papst", "der Gründer von Wikipedia"]
DE["q_who"] = [f"wer ist {p}" for p in people_de] + [f"wer war {p}" for p in people_de] + [f"weißt du wer {p} ist" for p in people_de[:10]]
things_de = ["die Hauptstadt von Australien", "der Sinn des Lebens", "die Lichtgeschwindigkeit", "der Siedepunkt von Wasser",
    "die Bevölkerung von China", "die Wurzel aus zwei", "der längste Fluss Afrikas", "das größte Tier", "Photosynthese", "ein schwarzes Loch",
    "die Börse", "Bitcoin", "die Relativitätstheorie", "deine Lieblingsfarbe", "dein Name", "das Datum von Ostern",
    "der höchste Berg Europas", "ein Haiku", "die Mehrzahl von Oktopus", "die Entfernung zum Mond"]
DE["q_what"] = [f"was ist {t}" for t in things_de] + [f"erzähl mir etwas über {t}" for t in things_de] + [f"erkläre mir {t}" for t in things_de]
DE["q_how"] = [f"wie {x}" for x in ["hoch ist der Eiffelturm", "alt ist das Universum", "fliegen Flugzeuge", "viele Beine hat eine Spinne",
    "weit ist die Sonne entfernt", "backe ich Brot", "macht man Pfannkuchen", "lange kocht ein Ei", "viele Menschen leben in Tokio",
    "tief ist das Meer", "funktionieren Magnete", "schwer ist ein Elefant", "binde ich eine Krawatte", "viel kostet ein Auto", "fühlst du dich",
    "war dein Tag", "sagt man danke auf Japanisch", "viele Kalorien hat ein Apfel", "schnell ist ein Gepard", "groß ist die Erde"]]
DE["q_when"] = [f"{w} {x}" for w, x in itertools.product(["wann war", "wo war"], ["die Mondlandung", "der Mauerfall",
    "Mozarts Geburt", "der erste Weltkrieg", "die Erfindung des Internets", "Goethes Geburtstag", "der Untergang der Titanic",
    "die Erfindung des Buchdrucks", "die letzte Olympiade", "die Wiedervereinigung"])]
DE["q_why"] = [f"warum {x}" for x in ["ist der Himmel blau", "schnurren Katzen", "ist das Meer salzig", "träumen wir", "ist Gras grün",
    "verfärben sich die Blätter", "sind Bananen krumm", "singen Vögel", "ist Wasser nass", "haben wir Fingerabdrücke", "ist der Mond weiß",
    "muss man beim Zwiebelschneiden weinen", "sind Flamingos rosa", "ist das Meer blau", "bellen Hunde"]]
DE["chat"] = ["erzähl mir einen Witz", "erzähl mir eine Geschichte", "sing mir ein Lied", "wie geht es dir heute", "was geht", "guten Morgen",
    "gute Nacht", "vielen Dank", "du bist toll", "ich liebe dich", "bist du ein Roboter", "hast du Gefühle", "was kannst du",
    "mir ist langweilig", "ich bin traurig heute", "ich bin so müde", "lass uns ein Spiel spielen", "kannst du tanzen", "magst du Pizza",
    "was ist dein Lieblingsfilm", "hallo du", "schön dich kennenzulernen", "du bist lustig", "das war super", "ich weiß nicht",
    "vielleicht später", "wer bist du", "hörst du mir zu", "träumst du", "was hältst du von Katzen", "ich hatte einen langen Tag",
    "sag etwas Lustiges", "empfiehl mir ein Buch", "mach mir ein Kompliment", "erzähl mir etwas Interessantes", "was soll ich heute kochen",
    "wirf eine Münze", "würfel mal", "nenn mir eine Zahl", "glaubst du an Geister", "alles Gute zum Geburtstag", "frohe Weihnachten",
    "prost", "bis später", "tschüss", "wie alt bist du", "wo wohnst du", "bist du verheiratet", "was machst du so", "bist du schlau"]
devices_de = ["den Whirlpool", "die Sauna", "den Pizzaofen", "die Espressomaschine", "den Mähroboter", "die Sprinkleranlage",
    "die Aquariumpumpe", "den 3D-Drucker", "die Wallbox", "die Poolheizung", "das Wasserbett", "die Karaokemaschine", "die Discokugel",
    "die Popcornmaschine", "die Schneekanone", "das Vogelhaus", "die Nebelmaschine", "das Laufband", "den Massagesessel", "die Eismaschine"]
DE["devices"] = [f"{v} {d}" for v, d in itertools.product(["starte", "stoppe", "aktiviere", "starte neu", "reinige", "leere", "befülle", "repariere"], devices_de)]
DE["near"] = ["schalte das", "stelle die", "schalte", "Licht", "mach", "wie ist", "öffne", "schließe die", "stelle die Temperatur",
    "an aus", "die Küche", "Licht Licht Licht", "Helligkeit", "stell einen", "Timer", "abbrechen bitte nicht", "füge zur Liste", "spiele",
    "Lautstärke", "ist die", "wie viele", "was ist", "Einkaufsliste", "sperre", "entsperre die", "stelle das Licht auf", "lauter machen",
    "leiser die", "mach es", "dimme", "bitte", "kannst du", "könntest du bitte", "ich möchte", "starte", "pausiere die", "weiter",
    "überspringen", "nächste", "vorherige die", "ok", "ja", "nein", "stopp stopp", "hmm", "äh", "danke", "nochmal", "was", "warum"]
DE["other"] = [f"{v} {o}" for v, o in itertools.product(["reserviere einen Tisch für", "bestelle", "kaufe", "schicke eine E-Mail an", "rufe", "übersetze", "finde", "zeichne mir"],
    ["zwei Personen heute Abend", "eine Pizza mit extra Käse", "neue Laufschuhe", "meinen Chef wegen des Meetings", "meine Mutter an",
    "hallo ins Französische", "die nächste Tankstelle", "einen günstigen Flug nach Rom", "ein Taxi zum Flughafen", "Karten für das Konzert"])]
for lang, cats in [("en", EN), ("de", DE)]:
    lines = []
    for cat, items in cats.items():
        items = list(dict.fromkeys(items))
        lines.append(f"# {cat} ({len(items)})")
        lines.extend(items)
    n = sum(1 for l in lines if not l.startswith("#"))
    print(lang, n)
    head = (f"# Out-of-domain sentences ({lang}, {n}): questions, chit-chat, commands for devices that don't exist,\n"
            "# near-misses (fragments of commands) and requests for services Emma doesn't have. Built compositionally\n"
            "# (stems x topics) by hand; none should match a Home Assistant intent with the test fixtures loaded.\n")
    open(os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{lang}-large.txt"), "w", encoding="utf-8").write(head + "\n".join(lines) + "\n")
