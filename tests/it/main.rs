mod polyglot;
